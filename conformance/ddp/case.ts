/**
 * The shape of a conformance case and of what it gets to run with. Cases are plain data plus a `run` function,
 * grouped by file under `cases/`; the runner (`runner.ts`) and the mocha entry (`ddp.conformance.test.ts`) both
 * execute them through `executeCase`.
 */
import { weakestLevel } from '../support/citation.js';
import type { ClientOptions, DdpTestClient, SockJsClientOptions } from './client.js';
import { DDP_CHECKLIST, DDP_LEVELS, type DdpCitation, type DdpLevel } from './spec.js';

/** Case groups; ids are `<group>.<ddp.md checklist number>` (`handshake.10`) or `ddptest.<nn>`. */
export type CaseGroup =
  | 'sockjs'
  | 'transport'
  | 'handshake'
  | 'malformed'
  | 'heartbeat'
  | 'methods'
  | 'ejson'
  | 'random'
  | 'subscriptions'
  | 'accounts'
  | 'resumption'
  | 'ddptest'
  | 'ddptest-sockjs';

/** Every group, in run order. */
export const CASE_GROUPS: readonly CaseGroup[] = [
  'sockjs',
  'transport',
  'handshake',
  'malformed',
  'heartbeat',
  'methods',
  'ejson',
  'random',
  'subscriptions',
  'accounts',
  'resumption',
  'ddptest',
  'ddptest-sockjs',
];

/** What the suite knows about the server under test. */
export interface SuiteOptions {
  /** Raw DDP WebSocket URL, e.g. `ws://127.0.0.1:3000/websocket`. */
  readonly url: string;
  /** The server's heartbeat interval and timeout in ms (assumed equal; Meteor's default is 15000). */
  readonly heartbeatMs: number;
  /** Run cases that must sit through a long heartbeat (heartbeatMs above {@link FAST_HEARTBEAT_MS}). */
  readonly slow: boolean;
  /** Default wait for one expected message, ms. */
  readonly waitMs: number;
  /**
   * Whether the server sends the legacy welcome frame on SockJS open (pgrt: `ddp({ sockjs: { welcomeFrame: true }
   * })`, or `ddp.sockjsWelcomeFrame` / `PGRT_DDP_SOCKJS_WELCOME_FRAME` for `pgrt serve`). Default true; false skips
   * case 8 and lets the SockJS ddptest cases speak first.
   */
  readonly sockjsWelcome?: boolean;
  /** The server's SockJS heartbeat delay in ms (default 45000, Meteor's); case 6 waits for one. */
  readonly sockjsHeartbeatMs?: number;
}

/** The SockJS base URL next to a raw DDP URL: `ws://h:p/app/websocket` → `http://h:p/app/sockjs`. */
export function sockjsBaseUrl(url: string): string {
  const parsed = new URL(url);
  parsed.protocol = parsed.protocol === 'wss:' ? 'https:' : 'http:';
  parsed.pathname = parsed.pathname.replace(/\/websocket\/?$/, '/sockjs');
  parsed.search = '';
  return parsed.toString().replace(/\/$/, '');
}

/** Heartbeat intervals up to this many ms make the heartbeat-timing cases run by default. */
export const FAST_HEARTBEAT_MS = 2000;

/** Options of {@link CaseContext.open}. */
export interface OpenOptions extends ClientOptions {
  /** Another URL than the suite's (e.g. a path variant). */
  readonly url?: string;
}

/** Options of {@link CaseContext.openSockJs}. */
export interface SockJsOpenOptions extends SockJsClientOptions {
  /** Another SockJS base URL than the suite's. */
  readonly url?: string;
}

/** What a case runs with. Clients it opens are closed by the runner after the case, pass or fail. */
export interface CaseContext {
  /** The suite's DDP WebSocket URL. */
  readonly url: string;
  /** The SockJS base URL beside it (`http://host:port/sockjs`). */
  readonly sockjsUrl: string;
  readonly options: SuiteOptions;
  /** Opens a new client (nothing sent yet). */
  open(options?: OpenOptions): Promise<DdpTestClient>;
  /** Opens a new client over SockJS with npm `sockjs-client` (nothing sent yet). */
  openSockJs(options?: SockJsOpenOptions): Promise<DdpTestClient>;
  /** Opens a new client and completes a `version: "1"` handshake. */
  connected(options?: OpenOptions): Promise<DdpTestClient>;
}

/** One conformance case. */
export interface ConformanceCase {
  /** Stable id: `<group>.<nn>` with the ddp.md checklist number, or `ddptest.<nn>`. */
  readonly id: string;
  readonly group: CaseGroup;
  readonly title: string;
  /** ddp.md "(b) Black-box DDP conformance checklist" numbers this case covers (their citations: spec.ts). */
  readonly checklist: readonly number[];
  /** What the case checks, when its checklist numbers do not say it (e.g. the ddptest cases). */
  readonly cite?: DdpCitation;
  /** How binding the case is, when not the weakest level of its citations. */
  readonly level?: DdpLevel;
  /** A reason to skip, fixed or depending on the options; undefined (or returning undefined) runs the case. */
  readonly skip?: string | ((options: SuiteOptions) => string | undefined);
  /** Case timeout in ms (default {@link DEFAULT_CASE_TIMEOUT_MS}), fixed or depending on the options. */
  readonly timeoutMs?: number | ((options: SuiteOptions) => number);
  /** Runs the case; resolves on success, rejects with an assertion error on failure. */
  readonly run: (ctx: CaseContext) => Promise<void>;
}

/** The sentences `testCase` checks: its own citation, else those of its checklist numbers. */
export function citationsOf(testCase: ConformanceCase): DdpCitation[] {
  if (testCase.cite) return [testCase.cite];
  return testCase.checklist.flatMap((n) => {
    const citation = DDP_CHECKLIST[n];
    return citation ? [citation] : [];
  });
}

/** How binding `testCase` is: its own level, else the weakest of its citations' (`meteor` if it cites none). */
export function levelOf(testCase: ConformanceCase): DdpLevel {
  return (
    testCase.level ??
    weakestLevel(
      citationsOf(testCase).map((c) => c.level),
      DDP_LEVELS,
      'meteor',
    )
  );
}

/** Default whole-case timeout, ms. */
export const DEFAULT_CASE_TIMEOUT_MS = 15000;

/** The reason a case is skipped under `options`, or undefined if it runs. */
export function skipReason(testCase: ConformanceCase, options: SuiteOptions): string | undefined {
  const { skip } = testCase;
  return typeof skip === 'function' ? skip(options) : skip;
}

/** The case's timeout under `options`. */
export function caseTimeout(testCase: ConformanceCase, options: SuiteOptions): number {
  const { timeoutMs } = testCase;
  if (timeoutMs === undefined) return DEFAULT_CASE_TIMEOUT_MS;
  return typeof timeoutMs === 'function' ? timeoutMs(options) : timeoutMs;
}

/** Two-digit case number: 7 → `07`, 104 → `104`. */
export function caseNumber(n: number): string {
  return String(n).padStart(2, '0');
}
