/**
 * Plain HTTP routes a plug-in serves beside the protocols (the OAuth redirect endpoint `/_oauth/<service>`), in
 * core's own words: a parsed request in, a whole response out. The composition root mounts every route an app
 * registered ({@link App.route}) on the HTTP host (transports/app-routes.ts), which reads the request body within
 * {@link HttpRoute.maxBodyBytes}, calls the handler and writes its answer; core never sees a socket.
 */

/** A request as a route sees it. */
export interface HttpRequest {
  /** Upper-case method (`GET`, `POST`, …). */
  readonly method: string;
  /** The path without query string, e.g. `/_oauth/github`. */
  readonly path: string;
  /** The query string's parameters. */
  readonly query: URLSearchParams;
  /** Headers with lower-case names. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /**
   * A form (`application/x-www-form-urlencoded`) body's parameters; empty for other methods or content types
   * (OAuth providers answering with `response_mode=form_post` POST a form).
   */
  readonly form: URLSearchParams;
  /** `http` or `https`: as the host was reached (TLS, or `X-Forwarded-Proto` when present). */
  readonly protocol: 'http' | 'https';
  /**
   * The client address: the socket's peer, or the N-th right-most `X-Forwarded-For` entry when the server's
   * `forwardedCount` is N (as the protocols compute it), for limits per address.
   */
  readonly clientAddress: string;
}

/** A route's answer. */
export interface HttpResponse {
  readonly status: number;
  /** Header names in lower case; `content-type` defaults to `text/plain; charset=utf-8`. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
}

/**
 * A route: `prefix` is matched against the request path (`path === prefix` or `path` starting with `prefix` +
 * `/`); `handle` answers, or resolves undefined to let the host try its next handler (then 404). A rejection is
 * answered 500 and logged by the host.
 */
export interface HttpRoute {
  readonly prefix: string;
  /** Larger bodies are refused with 413 before `handle` runs (default 16 KiB). */
  readonly maxBodyBytes?: number;
  handle(request: HttpRequest): Promise<HttpResponse | undefined>;
}
