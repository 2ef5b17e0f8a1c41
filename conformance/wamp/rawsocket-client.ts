/**
 * A raw WAMP RawSocket test client (transport_rawsocket.md): a bare TCP connection that sends literal bytes — a
 * handshake, frames of any type and length — and reads the router's bytes back. No WAMP library: the cases decide
 * what is sent, malformed on purpose or not.
 */
import { connect, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';

/** Where the router's RawSocket listens. */
export interface RawSocketAddress {
  readonly host: string;
  readonly port: number;
}

/** Frame types of the 4-octet prefix. */
export const FRAME = { message: 0, ping: 1, pong: 2 } as const;

/** One received frame. */
export interface RawFrame {
  readonly type: number;
  readonly payload: Buffer;
}

/** A 4-octet frame prefix (type, 25-bit length) followed by `payload`. */
export function frame(type: number, payload: Uint8Array | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : Buffer.from(payload);
  return Buffer.concat([prefix(type, body.length), body]);
}

/** Just the prefix of a frame of `length` bytes (to announce a frame without sending it). */
export function prefix(type: number, length: number): Buffer {
  return Buffer.from([
    type | ((length >> 21) & 0x08),
    (length >> 16) & 0xff,
    (length >> 8) & 0xff,
    length & 0xff,
  ]);
}

/** One RawSocket connection; see the module header. */
export class RawSocketPeer {
  /** Resolves when the TCP connection is gone. */
  readonly closed: Promise<void>;
  #isClosed = false;
  #received: Buffer = Buffer.alloc(0);
  #wake: (() => void) | undefined;

  private constructor(private readonly socket: Socket) {
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.#isClosed = true;
        this.#wake?.();
        resolve();
      }),
    );
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      this.#received = Buffer.concat([this.#received, chunk]);
      this.#wake?.();
    });
  }

  /** Opens a TCP connection, or a TLS one trusting `tls.ca` (nothing sent yet). */
  static connect(address: RawSocketAddress, tls?: { readonly ca: Buffer }): Promise<RawSocketPeer> {
    return new Promise((resolve, reject) => {
      const socket = tls
        ? connectTls({ port: address.port, host: address.host, ca: tls.ca })
        : connect(address.port, address.host);
      socket.once(tls ? 'secureConnect' : 'connect', () => resolve(new RawSocketPeer(socket)));
      socket.once('error', reject);
    });
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  /** Bytes received and not yet read. */
  get unread(): number {
    return this.#received.length;
  }

  send(bytes: Uint8Array | string): void {
    this.socket.write(bytes);
  }

  /** Sends the client handshake `7F`, `LLLL SSSS`, `b2 b3` and reads the 4-octet reply. */
  async handshake(
    serializerId: number,
    lengthExponent = 15,
    reserved: [number, number] = [0, 0],
  ): Promise<Buffer> {
    this.send(Buffer.from([0x7f, (lengthExponent << 4) | serializerId, ...reserved]));
    return await this.read(4, 2000);
  }

  /** The next `n` received bytes; rejects after `ms` (or when the connection closed first). */
  async read(n: number, ms: number): Promise<Buffer> {
    await this.#until(() => this.#received.length >= n, ms, `${n} bytes`);
    const out = this.#received.subarray(0, n);
    this.#received = this.#received.subarray(n);
    return out;
  }

  /** The next whole frame. */
  async frame(ms: number): Promise<RawFrame> {
    const head = await this.read(4, ms);
    const length = (((head[0] as number) & 0x08) << 21) | head.readUIntBE(1, 3);
    return {
      type: (head[0] as number) & 0x07,
      payload: length === 0 ? Buffer.alloc(0) : await this.read(length, ms),
    };
  }

  /** Resolves once the router closed the connection; rejects after `ms`. */
  async closedWithin(ms: number): Promise<void> {
    await this.#until(() => this.#isClosed, ms, 'the connection to close');
  }

  /** Stops reading from the socket, as a stalled consumer: the kernel buffers fill and the router's queue grows. */
  pause(): void {
    this.socket.pause();
  }

  close(): void {
    this.socket.destroy();
  }

  async #until(done: () => boolean, ms: number, what: string): Promise<void> {
    const deadline = Date.now() + ms;
    while (!done()) {
      const left = deadline - Date.now();
      if (left <= 0 || (this.#isClosed && !done()))
        throw new Error(`${this.#isClosed ? 'connection closed' : 'timed out'} waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }
}
