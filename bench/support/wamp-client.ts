/**
 * Autobahn|JS 22.11.1 sessions for the WAMP benchmarks: the real client library (as perf-scripts/wamp-bench.js),
 * JSON serializer only (fox-wamp speaks nothing else, and pgrt would pick JSON from Autobahn's default offer
 * anyway), no reconnect. Autobahn's per-close warning is silenced.
 */
import autobahn from 'autobahn';

/** What @types/autobahn omits: the serializer classes and the logger. */
interface AutobahnExtras {
  readonly serializer: { readonly JSONSerializer: new () => object };
  readonly log: { warn: (...args: unknown[]) => void };
}

const ab = autobahn as typeof autobahn & AutobahnExtras;
ab.log.warn = () => {};

/** An open session and how to close it. */
export interface WampClient {
  readonly session: autobahn.Session;
  /** Closes the session and its connection; resolves when the connection closed. */
  close(): Promise<void>;
}

/** Opens a session on `realm1` at `url`; rejects with the close reason when it cannot join. */
export function openWampClient(url: string): Promise<WampClient> {
  const options: autobahn.IConnectionOptions & { serializers: object[] } = {
    url,
    realm: 'realm1',
    max_retries: 0,
    retry_if_unreachable: false,
    serializers: [new ab.serializer.JSONSerializer()],
  };
  const connection = new autobahn.Connection(options);
  return new Promise((resolve, reject) => {
    let closed: (() => void) | undefined;
    connection.onopen = (session) => {
      resolve({
        session,
        close: () =>
          new Promise<void>((done) => {
            closed = done;
            connection.close();
          }),
      });
    };
    connection.onclose = (reason, details) => {
      if (closed) closed();
      else reject(new Error(`WAMP session not opened at ${url}: ${reason} ${JSON.stringify(details)}`));
      return true;
    };
    connection.open();
  });
}
