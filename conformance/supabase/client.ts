/**
 * A raw Phoenix socket for the conformance cases: sends frames exactly as given (text or binary), keeps every frame
 * received (text decoded from JSON, binary as bytes), waits for the one a case expects, and keeps a transcript for
 * failure reports. Knows nothing of pgrt.
 */
import WebSocket from 'ws';

/** A received frame: decoded JSON, or the bytes of a binary frame. */
export type Frame = unknown;

/** A Phoenix socket under test. */
export class PhoenixTestClient {
  readonly frames: Frame[] = [];
  readonly #log: string[] = [];
  #closed: number | undefined;

  private constructor(
    private readonly ws: WebSocket,
    private readonly waitMs: number,
  ) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        this.frames.push(Uint8Array.from(data));
        this.#log.push(`← binary ${data.toString('hex').slice(0, 80)}`);
        return;
      }
      const text = data.toString('utf8');
      this.#log.push(`← ${text.slice(0, 300)}`);
      try {
        this.frames.push(JSON.parse(text));
      } catch {
        this.frames.push(text);
      }
    });
    ws.on('close', (code: number) => {
      this.#closed = code;
      this.#log.push(`× closed ${code}`);
    });
  }

  /** Opens a socket to `url`. */
  static async open(url: string, waitMs: number): Promise<PhoenixTestClient> {
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new PhoenixTestClient(ws, waitMs);
  }

  /** The close code, once closed. */
  get closed(): number | undefined {
    return this.#closed;
  }

  /** Sends a frame: a string or bytes as they are, anything else as JSON text. */
  send(frame: unknown): void {
    const data = typeof frame === 'string' || frame instanceof Uint8Array ? frame : JSON.stringify(frame);
    this.#log.push(
      `→ ${typeof data === 'string' ? data.slice(0, 300) : `binary ${Buffer.from(data).toString('hex').slice(0, 80)}`}`,
    );
    this.ws.send(data);
  }

  /** The first frame from index `from` on that `match` accepts; rejects after the wait. */
  async waitFor<T = unknown>(match: (frame: Frame) => boolean, what: string, from = 0): Promise<T> {
    const deadline = Date.now() + this.waitMs;
    for (;;) {
      const found = this.frames.slice(from).find(match);
      if (found !== undefined) return found as T;
      if (Date.now() > deadline || this.#closed !== undefined)
        throw new Error(
          `no ${what} within ${this.waitMs} ms${this.#closed === undefined ? '' : ' (socket closed)'}`,
        );
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** The last `n` lines of the exchange. */
  transcript(n: number): string {
    return this.#log.slice(-n).join('\n');
  }

  async close(): Promise<void> {
    if (this.#closed !== undefined) return;
    const closed = new Promise<void>((resolve) => this.ws.once('close', () => resolve()));
    this.ws.close();
    await closed;
  }
}
