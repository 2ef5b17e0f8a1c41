/**
 * Serves a folder of static files on the shared HTTP host (a built web client: `index.html` and its assets).
 * `GET`/`HEAD` only; paths never leave the folder; every response carries an ETag and `Cache-Control: no-cache`,
 * so a browser revalidates (a cheap 304) and a reload after a hot code push gets the new files. HTML can be
 * rewritten per request (`transformHtml`, e.g. to inject a runtime config); rewritten HTML is not cached.
 *
 * Requests for a path without a file extension that accept `text/html` get `index.html` (client-side routing,
 * as Meteor serves its app HTML for any unknown page). Anything else that is not a file falls through to the
 * host's next handler.
 */
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync, type Stats, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';

/** Options of {@link StaticFiles}. */
export interface StaticFilesOptions {
  /** The folder to serve. */
  readonly root: string;
  /** URL path the folder is mounted at (default `/`). */
  readonly mount?: string;
  /** Rewrites an HTML file before it is sent. */
  readonly transformHtml?: (html: string, request: IncomingMessage) => string;
  /** Serve `index.html` for extension-less HTML page requests that match no file (default true). */
  readonly fallbackToIndex?: boolean;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.wasm': 'application/wasm',
};

/** A request handler serving one folder. */
export class StaticFiles {
  readonly #root: string;
  readonly #mount: string;

  constructor(private readonly options: StaticFilesOptions) {
    this.#root = resolve(options.root);
    const mount = options.mount ?? '/';
    this.#mount = mount.endsWith('/') ? mount : `${mount}/`;
  }

  /** Host request handler: true when it answered. */
  readonly handle = (request: IncomingMessage, response: ServerResponse, pathname: string): boolean => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return false;
    if (!`${pathname}/`.startsWith(this.#mount)) return false;
    let relative: string;
    try {
      relative = decodeURIComponent(pathname.slice(this.#mount.length));
    } catch {
      return false;
    }
    if (relative.includes('\0')) return false;
    const found = this.#find(relative) ?? this.#fallback(request, relative);
    if (!found) return false;
    this.#send(request, response, found.path, found.stats);
    return true;
  };

  #find(relative: string): { path: string; stats: Stats } | undefined {
    const path = resolve(this.#root, relative);
    if (path !== this.#root && !path.startsWith(this.#root + sep)) return undefined;
    const stats = statOrUndefined(path);
    if (stats?.isFile()) return { path, stats };
    if (stats?.isDirectory()) {
      const index = join(path, 'index.html');
      const indexStats = statOrUndefined(index);
      if (indexStats?.isFile()) return { path: index, stats: indexStats };
    }
    return undefined;
  }

  #fallback(request: IncomingMessage, relative: string): { path: string; stats: Stats } | undefined {
    if (this.options.fallbackToIndex === false || extname(relative) !== '') return undefined;
    if (!(request.headers.accept ?? '').includes('text/html')) return undefined;
    return this.#find('index.html');
  }

  #send(request: IncomingMessage, response: ServerResponse, path: string, stats: Stats): void {
    const type = CONTENT_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
    if (type.startsWith('text/html') && this.options.transformHtml) {
      const html = this.options.transformHtml(readFileSync(path, 'utf8'), request);
      const body = Buffer.from(html, 'utf8');
      const etag = `"${createHash('sha1').update(body).digest('base64url')}"`;
      this.#respond(request, response, type, etag, body.length, () => response.end(body));
      return;
    }
    const etag = `"${stats.size.toString(36)}-${Math.floor(stats.mtimeMs).toString(36)}"`;
    this.#respond(request, response, type, etag, stats.size, () => {
      createReadStream(path)
        .on('error', () => response.destroy())
        .pipe(response);
    });
  }

  #respond(
    request: IncomingMessage,
    response: ServerResponse,
    type: string,
    etag: string,
    length: number,
    body: () => void,
  ): void {
    const headers = { etag, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' };
    if (request.headers['if-none-match'] === etag) {
      response.writeHead(304, headers);
      response.end();
      return;
    }
    response.writeHead(200, { ...headers, 'content-type': type, 'content-length': length });
    if (request.method === 'HEAD') response.end();
    else body();
  }
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}
