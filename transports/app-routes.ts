/**
 * Mounts an app's plain HTTP routes (core/http-route.ts) on the {@link HttpHost}: matches the path prefix, reads a
 * form body within the route's bound (413 past it, 415 for a POST that is not a form), builds the neutral request,
 * writes the route's response. A route that throws gets 500 and the error is logged; the client learns nothing
 * more.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpRequest, HttpResponse, HttpRoute } from '../core/http-route.js';
import type { Logger } from '../core/logger.js';
import type { RequestHandler } from './http-host.js';
import { clientAddress } from './websocket-endpoint.js';

const DEFAULT_MAX_BODY_BYTES = 16 * 1024;

/**
 * The host request handler serving `route`; `forwardedCount` (trusted `X-Forwarded-For` hops) gives the request's
 * client address as the protocols compute theirs.
 */
export function routeHandler(route: HttpRoute, logger: Logger, forwardedCount = 0): RequestHandler {
  const prefix = route.prefix;
  return (request, response, pathname) => {
    if (pathname !== prefix && !pathname.startsWith(`${prefix}/`)) return false;
    serve(route, request, response, pathname, forwardedCount).catch((error: unknown) => {
      logger.error({ err: error, path: pathname }, 'http route failed');
      if (!response.headersSent) send(response, { status: 500, body: 'Internal server error\n' });
      else response.destroy();
    });
    return true;
  };
}

async function serve(
  route: HttpRoute,
  request: IncomingMessage,
  response: ServerResponse,
  path: string,
  forwardedCount: number,
): Promise<void> {
  const method = (request.method ?? 'GET').toUpperCase();
  let form = new URLSearchParams();
  if (method === 'POST') {
    const type = String(request.headers['content-type'] ?? '')
      .split(';')[0]
      ?.trim()
      .toLowerCase();
    if (type !== 'application/x-www-form-urlencoded') {
      request.resume();
      send(response, { status: 415, body: 'Unsupported media type\n' });
      return;
    }
    const body = await readBody(request, route.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES);
    if (body === undefined) {
      send(response, { status: 413, body: 'Payload too large\n', headers: { connection: 'close' } });
      return;
    }
    form = new URLSearchParams(body);
  }
  const url = new URL(request.url ?? '/', 'http://host');
  const neutral: HttpRequest = {
    method,
    path,
    query: url.searchParams,
    headers: request.headers,
    form,
    protocol: protocolOf(request),
    clientAddress: clientAddress(request, forwardedCount),
  };
  const answer = await route.handle(neutral);
  send(response, answer ?? { status: 404, body: 'Not found\n' });
}

/**
 * The body as text, or undefined as soon as it passes `limit` bytes (the rest is drained unread, so the 413 can
 * still be written).
 */
function readBody(request: IncomingMessage, limit: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const declared = Number(request.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      request.resume();
      resolve(undefined);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      request.off('data', onData);
      request.resume();
      resolve(undefined);
    };
    request.on('data', onData);
    request.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.once('error', reject);
  });
}

function protocolOf(request: IncomingMessage): 'http' | 'https' {
  const forwarded = request.headers['x-forwarded-proto'];
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim().toLowerCase();
  if (first === 'https' || first === 'http') return first;
  return 'encrypted' in request.socket && request.socket.encrypted === true ? 'https' : 'http';
}

function send(response: ServerResponse, answer: HttpResponse): void {
  const headers: Record<string, string> = {
    'content-type': 'text/plain; charset=utf-8',
    ...answer.headers,
  };
  const body = answer.body ?? '';
  headers['content-length'] = String(Buffer.byteLength(body));
  response.writeHead(answer.status, headers);
  response.end(body);
}
