/**
 * The reconnect storm's client (support/storm-clients.ts): one DDP client over a WebSocket spoken straight on a TCP
 * socket, so that ten thousand of them cost their load generator far less CPU than `ws` clients do (an HTTP client
 * request, a parser, a receiver stream and a sender per socket) and the storm measures the server, not the clients.
 *
 * It does what a reconnecting Meteor client does: TCP connect, the HTTP upgrade (checking the server's `101` and its
 * `Sec-WebSocket-Accept` for this client's key), then DDP `connect` and at once its `sub` (Meteor's client sends its
 * subscriptions right after `connect` on a reconnection, without waiting for `connected`; with `pipeline` false it
 * waits, as `DdpClient` does), and resolves on the subscription's `ready`, having counted the `added` before it. Its frames are masked,
 * as RFC 6455 requires of a client (with a zero key, which leaves the payload as it is: the server unmasks anyway).
 * Server frames are read as the server writes them (unmasked, unfragmented, shorter than 64 KiB); a server `ping`
 * is answered. Nothing else of DDP is understood.
 */
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const HEAD_END = Buffer.from('\r\n\r\n');
const CONNECT = '{"msg":"connect","version":"1","support":["1"]}';

/** What the client waits for next. */
type Phase = 'upgrade' | 'connected' | 'ready' | 'open';

/** One client; {@link LeanDdpSocket.open} resolves with it once its subscription is ready. */
export class LeanDdpSocket {
  /** `added` messages received before the subscription's `ready`. */
  added = 0;
  #phase: Phase = 'upgrade';
  #pending: Buffer | undefined;
  readonly #accept: string;
  #settle: ((error?: Error) => void) | undefined;

  private constructor(
    private readonly socket: Socket,
    private readonly request: string,
    key: string,
    private readonly publication: string,
    private readonly pipeline: boolean,
  ) {
    this.#accept = createHash('sha1')
      .update(key + WS_GUID)
      .digest('base64');
    socket.setNoDelay(true);
    socket.on('connect', () => socket.write(this.request));
    socket.on('data', (chunk: Buffer) => this.#data(chunk));
    socket.on('error', (error: Error) => this.#fail(error));
    socket.on('close', () => this.#fail(new Error(`connection closed while waiting for ${this.#phase}`)));
  }

  /**
   * Connects to `url` (`ws://host:port/path`) and subscribes to `publication` (right after `connect`, or once
   * `connected` came when `pipeline` is false); resolves once it is ready, rejects on any failure or after
   * `timeoutMs`.
   */
  static open(url: string, publication: string, timeoutMs: number, pipeline = true): Promise<LeanDdpSocket> {
    const { hostname, port, pathname } = new URL(url);
    const key = randomBytes(16).toString('base64');
    const request =
      `GET ${pathname} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
    const socket = connect({ host: hostname, port: Number(port) });
    const client = new LeanDdpSocket(socket, request, key, publication, pipeline);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => client.#fail(new Error(`not ready after ${timeoutMs} ms`)), timeoutMs);
      client.#settle = (error) => {
        clearTimeout(timer);
        if (error) reject(error);
        else resolve(client);
      };
    });
  }

  /** Closes the connection (no DDP goodbye exists). */
  close(): void {
    this.#phase = 'open';
    this.socket.end();
  }

  #fail(error: Error): void {
    const settle = this.#settle;
    this.#settle = undefined;
    if (settle === undefined) return;
    this.socket.destroy();
    settle(error);
  }

  #data(chunk: Buffer): void {
    let buffer = this.#pending === undefined ? chunk : Buffer.concat([this.#pending, chunk]);
    this.#pending = undefined;
    if (this.#phase === 'upgrade') {
      const end = buffer.indexOf(HEAD_END);
      if (end < 0) {
        this.#pending = buffer;
        return;
      }
      const head = buffer.toString('latin1', 0, end);
      if (!head.startsWith('HTTP/1.1 101 ') || !head.includes(`\r\nSec-WebSocket-Accept: ${this.#accept}`)) {
        this.#fail(new Error(`upgrade refused: ${head.split('\r\n')[0]}`));
        return;
      }
      this.#phase = 'connected';
      if (this.pipeline) {
        this.#phase = 'ready';
        this.#send(CONNECT, this.#sub());
      } else {
        this.#send(CONNECT);
      }
      buffer = buffer.subarray(end + HEAD_END.length);
    }
    let at = 0;
    while (buffer.length - at >= 2) {
      const second = buffer[at + 1] as number;
      let length = second & 0x7f;
      let header = 2;
      if (length === 126) {
        if (buffer.length - at < 4) break;
        length = buffer.readUInt16BE(at + 2);
        header = 4;
      } else if (length === 127) {
        this.#fail(new Error('frame of 64 KiB or more: not expected from this server'));
        return;
      }
      if (buffer.length - at < header + length) break;
      this.#frame(buffer[at] as number, buffer.toString('utf8', at + header, at + header + length));
      at += header + length;
    }
    if (at < buffer.length) this.#pending = buffer.subarray(at);
  }

  /** One server frame: `first` is its first byte (FIN, opcode), `text` its payload. */
  #frame(first: number, text: string): void {
    const opcode = first & 0x0f;
    if (opcode === 0x8) {
      this.#fail(new Error(`server closed the WebSocket: ${text}`));
      return;
    }
    if (opcode !== 0x1) return; // pings of the WebSocket itself are not sent by this server
    if (text.startsWith('{"msg":"ping"')) {
      this.#send('{"msg":"pong"}');
      return;
    }
    switch (this.#phase) {
      case 'connected':
        if (!text.startsWith('{"msg":"connected"')) return;
        this.#phase = 'ready';
        this.#send(this.#sub());
        return;
      case 'ready':
        if (text.startsWith('{"msg":"added"')) {
          this.added++;
        } else if (text.startsWith('{"msg":"ready"')) {
          this.#phase = 'open';
          const settle = this.#settle;
          this.#settle = undefined;
          settle?.();
        } else if (text.startsWith('{"msg":"nosub"') || text.startsWith('{"msg":"error"')) {
          this.#fail(new Error(`subscription refused: ${text}`));
        }
        return;
      default:
        return;
    }
  }

  #sub(): string {
    return `{"msg":"sub","id":"s0","name":"${this.publication}","params":[]}`;
  }

  /**
   * Writes masked text frames (zero masking key) of `texts` (ASCII, each shorter than 126 bytes), in one socket
   * write.
   */
  #send(...texts: string[]): void {
    let size = 0;
    for (const text of texts) {
      if (text.length >= 126) throw new Error(`message too long for this client: ${text}`);
      size += 6 + text.length;
    }
    const frames = Buffer.allocUnsafe(size);
    let at = 0;
    for (const text of texts) {
      frames[at] = 0x81;
      frames[at + 1] = 0x80 | text.length;
      frames.writeUInt32BE(0, at + 2);
      frames.write(text, at + 6, 'latin1');
      at += 6 + text.length;
    }
    this.socket.write(frames);
  }
}
