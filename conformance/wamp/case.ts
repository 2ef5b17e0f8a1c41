/**
 * The shape of a WAMP conformance case and of what it runs with. Cases are plain data plus a `run` function,
 * grouped by file under `cases/`. Every case runs once per serializer (`broker.47@msgpack`); the runner
 * (`runner.ts`) and the mocha entry (`wamp.conformance.test.ts`) both execute them through `executeCase`.
 *
 * Optional Advanced Profile features are detected, not assumed: a case lists the `WELCOME.Details.roles` feature
 * flags it `requires`, and is skipped with that reason when the router under test does not announce them.
 */

import { weakestLevel } from '../support/citation.js';
import type { HelloOptions, PeerOptions, WampPeer } from './client.js';
import type { RawSocketAddress } from './rawsocket-client.js';
import type { SerializerName } from './serializers.js';
import {
  PGRT_CITATION,
  SECURE_CITATION,
  WAMP_CHECKLIST,
  WAMP_LEVELS,
  type WampCitation,
  type WampLevel,
} from './spec.js';

/** Case groups, after the headings of wamp.md "(b) Black-box router conformance checklist". */
export type CaseGroup =
  | 'transport'
  | 'session'
  | 'violations'
  | 'uri'
  | 'broker'
  | 'dealer'
  | 'advanced'
  | 'meta'
  | 'compat'
  | 'secure'
  | 'pgrt';

/** Every group, in run order. */
export const CASE_GROUPS: readonly CaseGroup[] = [
  'transport',
  'session',
  'violations',
  'uri',
  'broker',
  'dealer',
  'advanced',
  'meta',
  'compat',
  'secure',
  'pgrt',
];

/** Ticket authentication settings (checklist 20–22, 24), when the router under test has such a realm. */
export interface TicketAuth {
  readonly realm: string;
  readonly authid: string;
  readonly ticket: string;
}

/** WAMP-CRA settings (checklist 23), when the router under test has such a realm. */
export interface CraAuth {
  readonly realm: string;
  readonly authid: string;
  readonly secret: string;
}

/** What the suite knows about the router under test. */
export interface SuiteOptions {
  /** WebSocket URL of the router, e.g. `ws://127.0.0.1:8080/ws`. */
  readonly url: string;
  /** The router's RawSocket, if it has one (transport cases 8–13; skipped without). */
  readonly rawSocket?: RawSocketAddress;
  /** The realm the cases join (default `realm1`). */
  readonly realm: string;
  /** Serializers to run every case over (default all three). */
  readonly serializers: readonly SerializerName[];
  /** Run the `pgrt` group (the router is pgrt with the fixture app of `fixtures/`). */
  readonly pgrt: boolean;
  /** Default wait for one expected message, ms. */
  readonly waitMs: number;
  /** Whole-case timeout, ms. */
  readonly caseTimeoutMs: number;
  /**
   * The URI rule the router enforces (checklist 43): `loose` (the spec's MUST rules only; Crossbar.io's effective
   * default, and the suite's) or `strict` (the recommended lower-case rule).
   */
  readonly uriCheck: 'strict' | 'loose';
  /** The router creates unknown realms on HELLO (checklist 16 is then skipped). */
  readonly autoRealms: boolean;
  /** A topic this suite's anonymous sessions may neither publish nor subscribe to (checklist 51–52). */
  readonly deniedTopic?: string;
  readonly ticket?: TicketAuth;
  readonly cra?: CraAuth;
  /**
   * A realm whose anonymous sessions have the router's secure defaults: no meta API, no pattern registrations, no
   * identity disclosure (the `secure` group; skipped without).
   */
  readonly closedRealm?: string;
}

/** A feature flag as announced in WELCOME: `broker.pattern_based_subscription`, `dealer.call_canceling`. */
export type Feature = `${'broker' | 'dealer'}.${string}`;

/** What the suite learnt from a probe session's WELCOME. */
export interface RouterInfo {
  /** Announced features, as `broker.<flag>` / `dealer.<flag>`. */
  readonly features: ReadonlySet<string>;
  /** `WELCOME.Details.agent`, if any. */
  readonly agent: string | undefined;
}

/** Options of {@link CaseContext.open} and {@link CaseContext.join}. */
export interface OpenOptions extends PeerOptions, HelloOptions {
  /** Another URL than the suite's. */
  readonly url?: string;
  /** Another realm than the suite's (join only). */
  readonly realm?: string;
}

/** What a case runs with. Peers it opens are closed by the runner after the case, pass or fail. */
export interface CaseContext {
  readonly options: SuiteOptions;
  readonly router: RouterInfo;
  /** The serializer of this run; {@link open} and {@link join} use it unless told otherwise. */
  readonly serializer: SerializerName;
  /** Opens a peer (nothing sent yet). */
  open(options?: OpenOptions): Promise<WampPeer>;
  /** Opens a peer and joins the realm (HELLO → WELCOME). Labels default to C1, C2, … */
  join(options?: OpenOptions): Promise<WampPeer>;
  /**
   * A URI unique to this case run (`com.conformance.<run>.<n>.<name>`), so cases never see each other's
   * subscriptions or registrations. Strict-rule characters only.
   */
  uri(name: string): string;
}

/** One conformance case, run once per serializer. */
export interface ConformanceCase {
  /** Stable id: `<group>.<nn>` with the wamp.md checklist number (a letter suffix for variants). */
  readonly id: string;
  readonly group: CaseGroup;
  readonly title: string;
  /** wamp.md "(b) Black-box router conformance checklist" numbers this case covers (their citations: spec.ts). */
  readonly checklist: readonly number[];
  /** What the case checks, when its checklist numbers (or its group) do not say it. */
  readonly cite?: WampCitation;
  /** How binding the case is, when not the weakest level of its citations. */
  readonly level?: WampLevel;
  /** Features the router must announce, else the case is skipped. */
  readonly requires?: readonly Feature[];
  /** Only these serializers (default: every one the suite runs). */
  readonly serializers?: readonly SerializerName[];
  /** A reason to skip, fixed or depending on the options; undefined (or returning undefined) runs the case. */
  readonly skip?: string | ((options: SuiteOptions) => string | undefined);
  /** Case timeout in ms (default: the suite's). */
  readonly timeoutMs?: number;
  /** Runs the case; resolves on success, rejects with an assertion error on failure. */
  readonly run: (ctx: CaseContext) => Promise<void>;
}

/** The sentences `testCase` checks: its own citation, its group's (`secure`, `pgrt`), or its checklist numbers'. */
export function citationsOf(testCase: ConformanceCase): WampCitation[] {
  if (testCase.cite) return [testCase.cite];
  if (testCase.group === 'pgrt') return [PGRT_CITATION];
  if (testCase.group === 'secure') return [SECURE_CITATION];
  return testCase.checklist.flatMap((n) => {
    const citation = WAMP_CHECKLIST[n];
    return citation ? [citation] : [];
  });
}

/** How binding `testCase` is: its own level, else the weakest of its citations' (`practice` if it cites none). */
export function levelOf(testCase: ConformanceCase): WampLevel {
  return (
    testCase.level ??
    weakestLevel(
      citationsOf(testCase).map((c) => c.level),
      WAMP_LEVELS,
      'practice',
    )
  );
}

/** One case over one serializer: what the runner executes and reports. */
export interface CaseRun {
  /** `<case id>@<serializer>` */
  readonly id: string;
  readonly case: ConformanceCase;
  readonly serializer: SerializerName;
}

/** Default per-message wait, ms. */
export const DEFAULT_WAIT_MS = 1500;

/** Default whole-case timeout, ms. */
export const DEFAULT_CASE_TIMEOUT_MS = 2500;

/**
 * The runs of `cases` over `serializers`, case-major (each case over every serializer, then the next case). A case
 * that is always skipped (a fixed `skip` string) gets one run, id without `@serializer`, so its reason is listed
 * once.
 */
export function expandRuns(
  cases: readonly ConformanceCase[],
  serializers: readonly SerializerName[],
): CaseRun[] {
  return cases.flatMap((testCase) => {
    const names = serializers.filter(
      (name) => testCase.serializers === undefined || testCase.serializers.includes(name),
    );
    const [first] = names;
    if (typeof testCase.skip === 'string') {
      return first === undefined ? [] : [{ id: testCase.id, case: testCase, serializer: first }];
    }
    return names.map((name) => ({ id: `${testCase.id}@${name}`, case: testCase, serializer: name }));
  });
}

/** The reason a case is skipped under `options` and `router` (static reasons first), or undefined if it runs. */
export function skipReason(
  testCase: ConformanceCase,
  options: SuiteOptions,
  router: RouterInfo | undefined,
): string | undefined {
  const { skip } = testCase;
  const fixed = typeof skip === 'function' ? skip(options) : skip;
  if (fixed !== undefined) return fixed;
  const missing = (testCase.requires ?? []).filter(
    (feature) => router !== undefined && !router.features.has(feature),
  );
  return missing.length > 0 ? `router does not announce ${missing.join(', ')}` : undefined;
}

/** A placeholder `run` for cases that are always skipped. */
export async function notApplicable(): Promise<void> {
  throw new Error('this case is always skipped');
}

/** Two-digit case number: 7 → `07`, 104 → `104`. */
export function caseNumber(n: number): string {
  return String(n).padStart(2, '0');
}

/** Skip reason for the pgrt group unless `--pgrt` is set. */
export function pgrtOnly(options: SuiteOptions): string | undefined {
  return options.pgrt
    ? undefined
    : 'pgrt bridge case (pass --pgrt against a pgrt router with the fixture app)';
}
