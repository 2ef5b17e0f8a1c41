/**
 * The part of npm `sockjs` 0.3.24's internal session registry (`lib/transport.js`) that pgrt reads: whether a
 * session id names a live session (transports/sockjs-request-guard.ts answers 404 for unknown ones before
 * reading a body). The version is pinned in package.json.
 */
declare module 'sockjs/lib/transport.js' {
  interface SockJsTransportModule {
    readonly Session: {
      /** The session registered under `id`, or null. */
      bySessionId(id: string): object | null;
    };
  }
  const transport: SockJsTransportModule;
  export default transport;
}
