/**
 * Meteor compatibility for web clients (reference/ddp.md §1.14): what a Meteor-built browser client expects from
 * the server besides DDP.
 *
 * - The publications stock packages subscribe to on their own, registered through the public {@link App} API:
 *   `meteor_autoupdate_clientVersions` (autoupdate: one document per client architecture, id e.g.
 *   `web.browser`, with `version`, `versionRefreshable`, `versionNonRefreshable`) and
 *   `meteor.loginServiceConfiguration` (accounts: ready, no documents; the oauth plug-in registers its own, with
 *   the configured login services, first). Without them the client logs
 *   "autoupdate subscription failed" and retries forever.
 * - Optionally the client bundle itself (`staticDir`: `index.html` and assets), with a generated
 *   `__meteor_runtime_config__` injected into the HTML (`DDP_DEFAULT_CONNECTION_URL`, `ROOT_URL`,
 *   `ROOT_URL_PATH_PREFIX`, `meteorEnv`, `autoupdate.versions`).
 * - Hot code push: the bundle's files are hashed (CSS → `versionRefreshable`, everything else →
 *   `versionNonRefreshable`); when they change on disk (fs.watch, debounced) the new versions are published with
 *   `changed`, and running Meteor clients reload (or swap CSS). No restart.
 *
 * Without `staticDir` only the publications are served: the bundle is served elsewhere (Meteor, a CDN) with
 * `DDP_DEFAULT_CONNECTION_URL` pointing at pgrt, and no versions are published.
 */
import { createHash } from 'node:crypto';
import { type FSWatcher, readdirSync, readFileSync, watch } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { extname, join, relative } from 'node:path';
import type { App } from '../../core/app.js';
import type { PublicationContext } from '../../core/contexts.js';
import type { Logger } from '../../core/logger.js';
import type { HttpHost } from '../../transports/http-host.js';
import { StaticFiles } from '../../transports/static-files.js';

/** The collection autoupdate reads. */
export const CLIENT_VERSIONS_COLLECTION = 'meteor_autoupdate_clientVersions';
/** The publication autoupdate subscribes to (same name as its collection). */
export const CLIENT_VERSIONS_PUBLICATION = 'meteor_autoupdate_clientVersions';
/** The publication accounts-base subscribes to. */
export const LOGIN_SERVICE_CONFIGURATION_PUBLICATION = 'meteor.loginServiceConfiguration';

/** Options of {@link MeteorClient} (`ddp({ meteorClient })`). */
export interface MeteorClientOptions {
  /** A built Meteor web client (`index.html` + assets) to serve at the path prefix; absent: publications only. */
  readonly staticDir?: string;
  /** `ROOT_URL`; default: from the request (`Host`, and `X-Forwarded-Proto` when present). */
  readonly rootUrl?: string;
  /** `DDP_DEFAULT_CONNECTION_URL`; default: the root URL (the same server). */
  readonly ddpUrl?: string;
  /** `ROOT_URL_PATH_PREFIX`, e.g. `/app`; default none. Match `ddp({ pathPrefix })`. */
  readonly pathPrefix?: string;
  /** The bundle's client architecture (default `web.browser`). */
  readonly arch?: string;
  /** Extra `__meteor_runtime_config__` fields (e.g. `PUBLIC_SETTINGS`, `DISABLE_SOCKJS`). */
  readonly runtimeConfig?: Readonly<Record<string, unknown>>;
  /** `meteorEnv.NODE_ENV` (default env NODE_ENV, else `production`). */
  readonly nodeEnv?: string;
  /** Republish versions when the bundle changes on disk (default true when `staticDir` is set). */
  readonly watch?: boolean;
  /** Quiet period before re-hashing after a change, ms (default 200). */
  readonly watchDebounceMs?: number;
}

/** One client architecture's versions, as published and as embedded in the runtime config. */
export interface ClientVersions {
  /** Hash of every file. */
  readonly version: string;
  /** Hash of the CSS files (a change swaps stylesheets without a reload). */
  readonly versionRefreshable: string;
  /** Hash of every other file (a change reloads the page). */
  readonly versionNonRefreshable: string;
  /** The CSS files, for autoupdate's stylesheet swap. */
  readonly assets: readonly { readonly url: string }[];
}

/** Serves a Meteor web client's needs; see the module header. */
export class MeteorClient {
  readonly #options: MeteorClientOptions;
  readonly #logger: Logger | undefined;
  readonly #arch: string;
  readonly #listeners = new Set<(versions: ClientVersions) => void>();
  #versions: ClientVersions | undefined;
  #watcher: FSWatcher | undefined;
  #debounce: NodeJS.Timeout | undefined;

  constructor(options: MeteorClientOptions, logger?: Logger) {
    this.#options = options;
    this.#logger = logger;
    this.#arch = options.arch ?? 'web.browser';
    if (options.staticDir) this.#versions = hashBundle(options.staticDir, this.#prefix());
  }

  /** The bundle's current versions (undefined without `staticDir`). */
  get versions(): ClientVersions | undefined {
    return this.#versions;
  }

  /** Registers the stock publications on `app` (names the app already registered are left alone). */
  registerPublications(app: App): void {
    if (!app.publications.has(CLIENT_VERSIONS_PUBLICATION))
      app.publish(CLIENT_VERSIONS_PUBLICATION, (ctx) => this.#publishVersions(ctx));
    if (!app.publications.has(LOGIN_SERVICE_CONFIGURATION_PUBLICATION))
      app.publish(LOGIN_SERVICE_CONFIGURATION_PUBLICATION, (ctx) => {
        ctx.ready();
        return undefined;
      });
  }

  /** Serves the bundle on `host` (a fallback handler: every other path comes first) and starts watching. */
  attach(host: HttpHost): void {
    const staticDir = this.#options.staticDir;
    if (!staticDir) return;
    const files = new StaticFiles({
      root: staticDir,
      mount: `${this.#prefix()}/`,
      transformHtml: (html, request) => injectRuntimeConfig(html, this.runtimeConfig(request)),
    });
    host.addRequestHandler(files.handle, { fallback: true });
    if (this.#options.watch ?? true) this.#watch(staticDir);
  }

  /** Re-hashes the bundle now and publishes the new versions if they changed. */
  refresh(): void {
    const staticDir = this.#options.staticDir;
    if (!staticDir) return;
    const next = hashBundle(staticDir, this.#prefix());
    if (next.version === this.#versions?.version) return;
    this.#versions = next;
    this.#logger?.info({ arch: this.#arch, version: next.version }, 'web client changed: hot code push');
    for (const listener of this.#listeners) listener(next);
  }

  /** `__meteor_runtime_config__` for a page served in answer to `request`. */
  runtimeConfig(request?: IncomingMessage): Record<string, unknown> {
    const prefix = this.#prefix();
    const rootUrl = this.#options.rootUrl ?? `${requestOrigin(request)}${prefix}`;
    const versions = this.#versions;
    return {
      meteorRelease: 'none (pgrt)',
      meteorEnv: {
        NODE_ENV: this.#options.nodeEnv ?? process.env.NODE_ENV ?? 'production',
        TEST_METADATA: '{}',
      },
      PUBLIC_SETTINGS: {},
      ROOT_URL: rootUrl,
      ROOT_URL_PATH_PREFIX: prefix,
      DDP_DEFAULT_CONNECTION_URL: this.#options.ddpUrl ?? rootUrl,
      appId: 'pgrt',
      isModern: this.#arch === 'web.browser',
      autoupdate: {
        versions: versions
          ? {
              [this.#arch]: {
                version: versions.version,
                versionRefreshable: versions.versionRefreshable,
                versionNonRefreshable: versions.versionNonRefreshable,
                assets: versions.assets,
              },
            }
          : {},
        autoupdateVersion: null,
        autoupdateVersionRefreshable: null,
        autoupdateVersionCordova: null,
      },
      ...this.#options.runtimeConfig,
    };
  }

  /** Stops watching the bundle. */
  close(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
    clearTimeout(this.#debounce);
  }

  #publishVersions(ctx: PublicationContext): undefined {
    const versions = this.#versions;
    if (versions) ctx.added(CLIENT_VERSIONS_COLLECTION, this.#arch, { ...versions });
    const listener = (next: ClientVersions): void => {
      ctx.changed(CLIENT_VERSIONS_COLLECTION, this.#arch, { ...next });
    };
    // Without a bundle there is nothing to publish or to change.
    if (versions) this.#listeners.add(listener);
    ctx.onStop(() => {
      this.#listeners.delete(listener);
    });
    ctx.ready();
    return undefined;
  }

  #watch(staticDir: string): void {
    try {
      this.#watcher = watch(staticDir, { recursive: true, persistent: false }, () => {
        clearTimeout(this.#debounce);
        this.#debounce = setTimeout(() => {
          try {
            this.refresh();
          } catch (error) {
            this.#logger?.warn({ err: error }, 'web client re-hash failed');
          }
        }, this.#options.watchDebounceMs ?? 200);
        this.#debounce.unref();
      });
      this.#watcher.on('error', (error) => this.#logger?.warn({ err: error }, 'web client watcher failed'));
    } catch (error) {
      this.#logger?.warn({ err: error }, 'cannot watch the web client; hot code push is off');
    }
  }

  #prefix(): string {
    return (this.#options.pathPrefix ?? '').replace(/\/+$/, '');
  }
}

/**
 * Puts `config` into the page as `__meteor_runtime_config__`, the way Meteor's boilerplate does
 * (`JSON.parse(decodeURIComponent("…"))`, safe inside a script). An existing assignment in a built bundle's HTML
 * is replaced; otherwise the script goes first in `<head>`.
 */
export function injectRuntimeConfig(html: string, config: Readonly<Record<string, unknown>>): string {
  const script = `<script type="text/javascript">__meteor_runtime_config__ = JSON.parse(decodeURIComponent(${JSON.stringify(
    encodeURIComponent(JSON.stringify(config)),
  )}));</script>`;
  const existing = /<script[^>]*>\s*__meteor_runtime_config__\s*=[\s\S]*?<\/script>/;
  if (existing.test(html)) return html.replace(existing, () => script);
  const head = /<head[^>]*>/i.exec(html);
  if (head)
    return `${html.slice(0, head.index + head[0].length)}\n${script}${html.slice(head.index + head[0].length)}`;
  return `${script}\n${html}`;
}

/** Hashes every file under `root` (dot-files skipped) into {@link ClientVersions}. */
export function hashBundle(root: string, urlPrefix = ''): ClientVersions {
  const all = createHash('sha1');
  const refreshable = createHash('sha1');
  const nonRefreshable = createHash('sha1');
  const assets: { url: string }[] = [];
  for (const path of listFiles(root)) {
    const name = relative(root, path).split('\\').join('/');
    const digest = createHash('sha1').update(readFileSync(path)).digest('hex');
    const entry = `${name}\0${digest}\n`;
    all.update(entry);
    if (extname(name).toLowerCase() === '.css') {
      refreshable.update(entry);
      assets.push({ url: `${urlPrefix}/${name}` });
    } else {
      nonRefreshable.update(entry);
    }
  }
  return {
    version: all.digest('hex'),
    versionRefreshable: refreshable.digest('hex'),
    versionNonRefreshable: nonRefreshable.digest('hex'),
    assets,
  };
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
    a.name.localeCompare(b.name),
  )) {
    if (entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(path));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

function requestOrigin(request: IncomingMessage | undefined): string {
  if (!request) return 'http://localhost';
  const forwarded = request.headers['x-forwarded-proto'];
  const encrypted = 'encrypted' in request.socket && request.socket.encrypted === true;
  const proto =
    (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim() ||
    (encrypted ? 'https' : 'http');
  return `${proto}://${request.headers.host ?? 'localhost'}`;
}
