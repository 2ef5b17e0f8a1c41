/**
 * The part of npm `permessage-deflate` 0.1.x (faye's websocket-extensions deflate, the one Meteor uses) that pgrt
 * passes to sockjs's faye-websocket: a configurable extension object.
 */
declare module 'permessage-deflate' {
  interface PermessageDeflateOptions {
    level?: number;
    memLevel?: number;
    strategy?: number;
    noContextTakeover?: boolean;
    maxWindowBits?: number;
    requestNoContextTakeover?: boolean;
    requestMaxWindowBits?: number;
  }
  interface PermessageDeflate {
    readonly name: 'permessage-deflate';
    configure(options: PermessageDeflateOptions): PermessageDeflate;
  }
  const deflate: PermessageDeflate;
  export default deflate;
}
