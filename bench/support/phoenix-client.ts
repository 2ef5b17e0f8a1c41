/**
 * A minimal raw Supabase Realtime (Phoenix, vsn 2.0.0 arrays: realtime-js's default) client for the benchmarks:
 * `ws` to `/realtime/v1/websocket`, one channel joined with one postgres_changes binding, resolved once the
 * `system` "Subscribed to PostgreSQL" message arrived (the client's readiness signal). `onChange` receives each
 * `postgres_changes` payload's `data`; `onFrame` sees every frame before it is parsed and may consume it (the
 * fan-out counter does not parse). Heartbeats are not sent: bench runs are shorter than the server's timeout.
 */
import WebSocket from 'ws';

/** One Phoenix socket with one joined channel. */
export class PhoenixClient {
  onFrame: ((frame: Buffer) => boolean) | undefined;
  onChange: ((data: Record<string, unknown>) => void) | undefined;
  readonly #ws: WebSocket;
  #subscribed: (() => void) | undefined;
  #failed: ((error: Error) => void) | undefined;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) return;
      if (this.onFrame?.(data)) return;
      const [, , , event, payload] = JSON.parse(data.toString('utf8')) as [
        unknown,
        unknown,
        string,
        string,
        Record<string, unknown>,
      ];
      if (event === 'postgres_changes') this.onChange?.(payload.data as Record<string, unknown>);
      else if (event === 'system') {
        if (payload.status === 'ok') this.#subscribed?.();
        else this.#failed?.(new Error(`system error: ${JSON.stringify(payload)}`));
      } else if (event === 'phx_reply' && (payload.status as string) !== 'ok') {
        this.#failed?.(new Error(`join refused: ${JSON.stringify(payload)}`));
      }
    });
    ws.on('close', () => this.#failed?.(new Error('connection closed')));
  }

  /** Connects to `http://host:port` (the project URL supabase-js would get). */
  static async connect(base: string): Promise<PhoenixClient> {
    const url = `${base.replace(/^http/, 'ws')}/realtime/v1/websocket?apikey=anon&vsn=2.0.0`;
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new PhoenixClient(ws);
  }

  /** Joins `realtime:<topic>` with a postgres_changes binding on `public.<table>` for `event`. */
  async subscribe(topic: string, table: string, event = '*'): Promise<void> {
    const ready = new Promise<void>((resolve, reject) => {
      this.#subscribed = resolve;
      this.#failed = reject;
    });
    const config = {
      broadcast: { ack: false, self: false },
      presence: { key: '', enabled: false },
      postgres_changes: [{ event, schema: 'public', table }],
      private: false,
    };
    this.#ws.send(
      JSON.stringify(['1', '1', `realtime:${topic}`, 'phx_join', { config, access_token: 'anon' }]),
    );
    await ready;
  }

  close(): void {
    this.#failed = undefined;
    this.#ws.close();
  }
}
