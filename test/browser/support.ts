/**
 * Shared setup of the browser suites: Debian's Chromium driven by playwright-core (never downloaded), esbuild
 * bundles for pages, and a TCP proxy whose connections can be cut the way a network failure cuts them.
 */
import { existsSync } from 'node:fs';
import { createServer, type Server, Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { type Browser, chromium } from 'playwright-core';

/** The Chromium binary (`.ci/run` installs Debian's; elsewhere `apt-get install chromium`, or set PGRT_CHROMIUM). */
export const CHROMIUM = process.env.PGRT_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Called in a browser suite's `before`: returns when the Chromium binary exists. Without it the suite skips itself,
 * except when `PGRT_REQUIRE_BROWSER=1` (set by `.ci/run`): then it fails, so CI never reports a browser suite green
 * that did not run.
 */
export function requireChromium(
  context: Pick<Mocha.Context, 'skip'>,
  env: NodeJS.ProcessEnv = process.env,
  executable: string = CHROMIUM,
): void {
  if (existsSync(executable)) return;
  if (env.PGRT_REQUIRE_BROWSER === '1') {
    throw new Error(
      `Chromium not found at ${executable} and PGRT_REQUIRE_BROWSER=1: install it (apt-get install chromium) ` +
        'or point PGRT_CHROMIUM at one',
    );
  }
  context.skip();
}

/** Launches headless Chromium with the flags every browser suite uses. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Bundles browser code given as source text (imports resolve from the repository root) into one IIFE script, as
 * the demo's web client is built: `global` and `process.env.NODE_ENV` defined for sockjs-client and its
 * dependencies.
 */
export async function bundleForBrowser(contents: string): Promise<string> {
  const result = await build({
    stdin: { contents, resolveDir: REPO_ROOT, sourcefile: 'page.js', loader: 'js' },
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    legalComments: 'none',
    logLevel: 'silent',
    define: { global: 'globalThis', 'process.env.NODE_ENV': '"production"' },
  });
  const [output] = result.outputFiles;
  if (!output) throw new Error('esbuild produced no output');
  return output.text;
}

/**
 * A TCP proxy on 127.0.0.1 in front of `targetPort`, standing for the network between a browser and the server.
 * {@link drop} kills every connection through it at both ends with a TCP reset: each side sees its socket die
 * (ECONNRESET; WebSocket code 1006) with no WebSocket close frame, no SockJS close frame and no application
 * goodbye — what a NAT or load balancer losing its state, a Wi-Fi or mobile network switch, or a restarted
 * middlebox does to a long-lived connection.
 */
export class DroppableProxy {
  readonly #server: Server;
  readonly #links = new Set<readonly [Socket, Socket]>();
  #port = 0;

  private constructor(targetPort: number) {
    this.#server = createServer({ noDelay: true }, (client) => {
      const upstream = new Socket();
      const link = [client, upstream] as const;
      this.#links.add(link);
      const end = () => {
        this.#links.delete(link);
        client.destroy();
        upstream.destroy();
      };
      for (const socket of link) {
        socket.on('error', end);
        socket.on('close', end);
      }
      upstream.connect({ port: targetPort, host: '127.0.0.1', noDelay: true });
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  /** Starts a proxy to `127.0.0.1:targetPort` on a free port. */
  static async start(targetPort: number): Promise<DroppableProxy> {
    const proxy = new DroppableProxy(targetPort);
    const server = proxy.#server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy has no port');
    proxy.#port = address.port;
    return proxy;
  }

  /** The port browsers connect to. */
  get port(): number {
    return this.#port;
  }

  /** Connections currently carried. */
  get connectionCount(): number {
    return this.#links.size;
  }

  /** Resets every connection through the proxy at both ends; returns how many there were. */
  drop(): number {
    const links = [...this.#links];
    for (const [client, upstream] of links) {
      client.resetAndDestroy();
      upstream.resetAndDestroy();
    }
    return links.length;
  }

  /** Drops every connection and stops listening. */
  async close(): Promise<void> {
    this.drop();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
