/**
 * The request guard in front of sockjs's HTTP transports. npm `sockjs` 0.3.24 reads every request body whole,
 * whatever its size, re-copying the buffer for each chunk (quadratic: a 50 MB `xhr_send` stalls the process for
 * tens of seconds), and checks the session only afterwards. This guard sees every plain request under the SockJS
 * prefix first:
 *
 * - `xhr_send` and `jsonp_send` to a session sockjs does not know get `404` at once, body unread;
 * - a request whose `Content-Length` is over `maxBodyBytes` gets `413` at once, whatever its route;
 * - the bodies sockjs would read (`xhr_send`, `jsonp_send`, `chunking_test`) are read here, counting: one byte
 *   over `maxBodyBytes` and the request gets `413`; otherwise sockjs gets the request with the whole body as one
 *   chunk (so its own copy is linear) and answers it as before, with its exact statuses and headers.
 *
 * A refused request is not read any further: the guard stops reading its socket, answers, and destroys the socket
 * {@link LINGER_MS} later, once the client has had time to read the answer (closing at once would reset the
 * connection under a client still sending, and a reset makes its kernel discard the unread answer). Requests
 * that carry no body for sockjs (polls, `/info`, …) pass at once; a body they carry anyway is never buffered (Node
 * discards it).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import sockjsTransport from 'sockjs/lib/transport.js';

/** Options of {@link SockJsRequestGuard}. */
export interface SockJsRequestGuardOptions {
  /** The SockJS prefix, without a trailing slash (e.g. `/sockjs`). */
  readonly prefix: string;
  /** Largest request body accepted, in bytes. */
  readonly maxBodyBytes: number;
  /** Whether sockjs answers CORS (its `disable_cors` is the opposite): refusals carry the same headers. */
  readonly cors: boolean;
}

/** How long a refused request's socket stays open, unread, so that its client can read the answer. */
export const LINGER_MS = 2000;

/** sockjs's `h_no_cache` header, which its transports set on every answer. */
const NO_CACHE = 'no-store, no-cache, no-transform, must-revalidate, max-age=0';

/** Screens plain requests under a SockJS prefix before sockjs sees them. */
export class SockJsRequestGuard {
  readonly #maxBodyBytes: number;
  readonly #cors: boolean;
  /** `<prefix>/<server>/<session>/(xhr_send|jsonp_send)`: group 1 is the session id. */
  readonly #sendRoute: RegExp;
  readonly #chunkingTest: RegExp;

  constructor(options: SockJsRequestGuardOptions) {
    this.#maxBodyBytes = options.maxBodyBytes;
    this.#cors = options.cors;
    const prefix = escapeRegExp(options.prefix);
    this.#sendRoute = new RegExp(`^${prefix}/[^/.]+/([^/.]+)/(?:xhr_send|jsonp_send)/?$`);
    this.#chunkingTest = new RegExp(`^${prefix}/chunking_test/?$`);
  }

  /**
   * Screens `request` (its path under the prefix is `pathname`): answers it here (413, 404), or hands it to
   * `pass` — at once, or once its body has been read, as a request whose body is that one buffer.
   */
  handle(
    request: IncomingMessage,
    response: ServerResponse,
    pathname: string,
    pass: (request: IncomingMessage) => void,
  ): void {
    const post = request.method === 'POST';
    const send = post ? this.#sendRoute.exec(pathname) : null;
    if (send && !sockjsTransport.Session.bySessionId(send[1] as string)) {
      this.#refuse(request, response, 404);
      return;
    }
    if (Number(request.headers['content-length'] ?? 0) > this.#maxBodyBytes) {
      this.#refuse(request, response, 413);
      return;
    }
    if (!send && !(post && this.#chunkingTest.test(pathname))) {
      pass(request);
      return;
    }
    this.#readBody(request, response, pass);
  }

  /** Reads the body, counting; over the limit → 413, else `pass` gets the request with the body in one chunk. */
  #readBody(
    request: IncomingMessage,
    response: ServerResponse,
    pass: (request: IncomingMessage) => void,
  ): void {
    const chunks: Buffer[] = [];
    let bytes = 0;
    const onData = (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes <= this.#maxBodyBytes) {
        chunks.push(chunk);
        return;
      }
      chunks.length = 0;
      request.off('data', onData);
      request.off('end', onEnd);
      this.#refuse(request, response, 413);
    };
    const onEnd = () => pass(withBody(request, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    request.on('data', onData);
    request.on('end', onEnd);
  }

  /**
   * Answers `status` with sockjs's headers, reads nothing more, and destroys the socket after {@link LINGER_MS}.
   * The answer is complete on the wire (`Content-Length`) but the response is never ended: Node reads on after a
   * finished response (looking for the next request on the socket), which here would be the rest of the body.
   */
  #refuse(request: IncomingMessage, response: ServerResponse, status: 404 | 413): void {
    request.pause();
    const socket = request.socket;
    setTimeout(() => socket.destroy(), LINGER_MS).unref();
    const body = status === 413 ? 'Payload Too Large\n' : '';
    const headers: Record<string, string> = {
      'content-type': 'text/plain; charset=UTF-8',
      'content-length': String(body.length),
      'cache-control': NO_CACHE,
      connection: 'close',
    };
    if (this.#cors) {
      const origin = request.headers.origin;
      headers['access-control-allow-origin'] = origin ?? '*';
      if (origin !== undefined) headers['access-control-allow-credentials'] = 'true';
      headers.vary = 'Origin';
    }
    response.writeHead(status, headers);
    if (body) response.write(body);
    else response.flushHeaders();
  }
}

/**
 * `request` as sockjs reads it, with `body` as its whole content: a view that inherits everything from the real
 * request (headers, url, method, socket) and emits `data` (once) and `end` to the listeners sockjs adds, on the
 * next tick. Other events go to the real request.
 */
function withBody(request: IncomingMessage, body: Buffer): IncomingMessage {
  const view = Object.create(request) as IncomingMessage;
  const onData: ((chunk: Buffer) => void)[] = [];
  const onEnd: (() => void)[] = [];
  let scheduled = false;
  const emit = () => {
    if (body.length > 0) for (const listener of onData) listener(body);
    for (const listener of onEnd) listener();
  };
  // biome-ignore lint/suspicious/noExplicitAny: EventEmitter's own listener type
  const on = (event: string | symbol, listener: (...args: any[]) => void): IncomingMessage => {
    if (event === 'data') onData.push(listener);
    else if (event === 'end') onEnd.push(listener);
    else {
      request.on(event, listener);
      return view;
    }
    if (!scheduled) {
      scheduled = true;
      process.nextTick(emit);
    }
    return view;
  };
  Object.assign(view, { on, addListener: on, once: on });
  return view;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
