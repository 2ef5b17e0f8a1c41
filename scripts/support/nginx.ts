/**
 * A real nginx (Debian's `nginx`, `.ci/run` installs it) running the shipped `examples/deploy/nginx.conf`, for the
 * deployment tests: the file is an http-level file (what goes into /etc/nginx/conf.d/), included as it is except
 * for what a test must choose — the public port (`listen`), the addresses of the `server` lines of each upstream
 * (in order) and the access log's path — from a generated main nginx.conf that keeps everything else of nginx's in a
 * temporary folder (`-p <dir>`: pid, lock, temp paths; error log on stderr; `daemon off`), so it runs without root.
 * nginx (open source) has no API that tells which upstreams it holds up: the access log (format `pgrt`: the
 * upstream addresses tried for each request, and their statuses) is what tells which process served what.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../core/database/embedded-postgres.js';
import { BalancerProcess } from './balancer.js';
import { systemBinary } from './pgbouncer.js';
import { waitUntil } from './wait.js';

/** The configuration shipped for readers to copy. */
export const NGINX_CONFIG = fileURLToPath(new URL('../../examples/deploy/nginx.conf', import.meta.url));

/** What {@link rewriteNginxConfig} replaces. */
export interface NginxPlaces {
  /** Public port, on 127.0.0.1. */
  readonly port: number;
  /** Ports of the pgrt processes on 127.0.0.1, one per `server` line of each upstream, in order. */
  readonly servers: readonly number[];
  /** Path of the access log. */
  readonly accessLog: string;
}

/**
 * The shipped configuration with its ports and access log replaced; throws when the file's `listen`, `access_log`,
 * upstreams or their `server` lines no longer match what the tests expect (so the file and the tests move together).
 */
export function rewriteNginxConfig(text: string, places: NginxPlaces): string {
  const perUpstream: number[] = [];
  let listens = 0;
  let logs = 0;
  const lines = text.split('\n').map((line) => {
    if (/^\s*upstream\s+\S+\s*\{/.test(line)) perUpstream.push(0);
    const server = /^(\s*server\s+)127\.0\.0\.1:\d+(.*)$/.exec(line);
    if (server && perUpstream.length > 0) {
      const index = perUpstream[perUpstream.length - 1]!;
      perUpstream[perUpstream.length - 1] = index + 1;
      const port = places.servers[index];
      if (port === undefined)
        throw new Error(`nginx.conf: an upstream has more server lines than ${places.servers.length}`);
      return `${server[1]}127.0.0.1:${port}${server[2]}`;
    }
    if (/^\s*listen\s+\d+;\s*$/.test(line)) {
      listens++;
      return line.replace(/\d+;/, `127.0.0.1:${places.port};`);
    }
    if (/^\s*access_log\s+\S+\s+pgrt;\s*$/.test(line)) {
      logs++;
      return line.replace(/access_log\s+\S+/, `access_log ${places.accessLog}`);
    }
    return line;
  });
  const servers = perUpstream.every((n) => n === places.servers.length);
  if (perUpstream.length !== 2 || !servers || listens !== 1 || logs !== 1)
    throw new Error(
      `nginx.conf: expected 1 listen, 1 access_log … pgrt, 2 upstreams of ${places.servers.length} servers ` +
        `(found ${listens} listen, ${logs} access_log, upstreams of ${perUpstream.join(', ') || 'none'})`,
    );
  return lines.join('\n');
}

/** The main nginx.conf around the shipped file: everything nginx writes stays in `dir`. */
function mainConfig(dir: string, included: string): string {
  return [
    'daemon off;',
    'master_process on;',
    'worker_processes 1;',
    `pid ${join(dir, 'nginx.pid')};`,
    `lock_file ${join(dir, 'nginx.lock')};`,
    'error_log stderr error;',
    'events { worker_connections 4096; }',
    'http {',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(
      (kind) => `  ${kind}_temp_path ${join(dir, kind)};`,
    ),
    '  access_log off;',
    `  include ${included};`,
    '}',
    '',
  ].join('\n');
}

/** One line of the access log (format `pgrt`). */
export interface AccessEntry {
  readonly method: string;
  /** The request's path (with its query). */
  readonly path: string;
  /** What the client got. */
  readonly status: number;
  /** The ports of the processes tried, in order (several when nginx retried on the next one). */
  readonly upstreams: readonly number[];
  /** What each of them answered (`502` for a refused connection, `101` for an upgrade). */
  readonly upstreamStatuses: readonly string[];
  /** The SockJS session id nginx hashed on ('' for other paths). */
  readonly session: string;
}

const ACCESS_LINE = /"(\S+) (\S+) [^"]*" (\d+) upstream=(.*) upstream_status=(.*) session=(\S*) time=/;

/** Parses the access log (format `pgrt` of nginx.conf); lines of another format are skipped. */
export function parseAccessLog(text: string): AccessEntry[] {
  const entries: AccessEntry[] = [];
  for (const line of text.split('\n')) {
    const match = ACCESS_LINE.exec(line);
    if (!match) continue;
    const list = (value: string) => value.split(/[,:]\s*/).map((s) => s.trim());
    entries.push({
      method: match[1]!,
      path: match[2]!,
      status: Number(match[3]),
      upstreams: (match[4] ?? '')
        .split(/,\s*/)
        .map((address) => Number(/:(\d+)$/.exec(address.trim())?.[1] ?? Number.NaN))
        .filter((port) => !Number.isNaN(port)),
      upstreamStatuses: list(match[5] ?? '').filter((s) => s !== '' && s !== '-'),
      session: match[6] ?? '',
    });
  }
  return entries;
}

/** A running nginx. */
export class Nginx extends BalancerProcess {
  private constructor(
    port: number,
    dir: string,
    /** The pgrt processes' ports, in `server` order. */
    readonly servers: readonly number[],
  ) {
    super(port, dir, systemBinary('nginx'), ['-p', dir, '-e', 'stderr', '-c', join(dir, 'nginx.conf')]);
  }

  /** Starts nginx with the shipped configuration in front of `servers`; resolves once it accepts connections. */
  static async start(servers: readonly number[], port?: number): Promise<Nginx> {
    const dir = mkdtempSync(join(tmpdir(), 'pgrt-nginx-'));
    // Started as root, nginx's workers run as `nobody`: they must reach the folder.
    chmodSync(dir, 0o755);
    const places = { port: port ?? (await freePort()), servers, accessLog: join(dir, 'access.log') };
    writeFileSync(join(dir, 'pgrt.conf'), rewriteNginxConfig(readFileSync(NGINX_CONFIG, 'utf8'), places));
    writeFileSync(join(dir, 'nginx.conf'), mainConfig(dir, join(dir, 'pgrt.conf')));
    const nginx = new Nginx(places.port, dir, servers);
    try {
      await Promise.race([
        waitUntil(() => accepts(places.port), { what: () => `nginx on :${places.port}: ${nginx.log}` }),
        nginx.exited,
      ]);
    } catch (error) {
      await nginx.stop();
      throw error;
    }
    return nginx;
  }

  /** The access log so far (each request is written when it ends: an upgraded one when its socket closes). */
  accessLog(): AccessEntry[] {
    const path = join(this.dir, 'access.log');
    return existsSync(path) ? parseAccessLog(readFileSync(path, 'utf8')) : [];
  }

  /**
   * Resolves once nginx sends requests to every process (or those named `pgrt<n>`, n the `server` line) again:
   * nginx has no view of them to ask, so this sends `GET /healthz` through it until the access log shows each of
   * them answered one — after a failure nginx tries a process again only once its `fail_timeout` has passed.
   */
  override async waitUp(names?: readonly string[], timeoutMs = 20_000): Promise<void> {
    const wanted = this.servers.filter((_, i) => !names || names.includes(`pgrt${i + 1}`));
    const from = this.accessLog().length;
    const served = new Set<number>();
    await waitUntil(
      async () => {
        await fetch(this.url('/healthz')).then(
          (r) => r.arrayBuffer(),
          () => undefined,
        );
        for (const entry of this.accessLog().slice(from)) {
          const last = entry.upstreams[entry.upstreams.length - 1];
          if (entry.path === '/healthz' && entry.status === 200 && last !== undefined) served.add(last);
        }
        return wanted.every((port) => served.has(port));
      },
      {
        timeoutMs,
        intervalMs: 50,
        what: () => `nginx to send requests to ${wanted.join(', ')} (served: ${[...served].join(', ')})`,
      },
    );
  }
}

/** Whether a TCP connection to 127.0.0.1:`port` is accepted. */
async function accepts(port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
