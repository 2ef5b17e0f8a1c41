/**
 * The shape of a Supabase Realtime conformance case and of what it runs with. Cases are plain data plus a `run`
 * function (cases.ts), each citing what it checks (spec.ts). The runner (runner.ts), the CLI (cli.ts) and the
 * mocha entry (supabase.conformance.test.ts) execute them through `executeCase`.
 */
import type { PhoenixTestClient } from './client.js';
import { SUPABASE_SPEC, type SupabaseCitation, type SupabaseLevel } from './spec.js';

/** Case groups. */
export type CaseGroup = 'socket' | 'channel' | 'changes' | 'rows' | 'binary' | 'pgrt';

/** Every group, in run order. */
export const CASE_GROUPS: readonly CaseGroup[] = ['socket', 'channel', 'changes', 'rows', 'binary', 'pgrt'];

/** What the suite knows about the server under test. */
export interface SuiteOptions {
  /**
   * The socket URL with its `apikey`, without `vsn`, e.g. `ws://127.0.0.1:3000/realtime/v1/websocket?apikey=…`
   * (Supabase: `wss://<project>.supabase.co/realtime/v1/websocket?apikey=<anon key>`).
   */
  readonly url: string;
  /** A table every client may receive the changes of (`schema.table`); absent: the `changes` cases skip. */
  readonly table?: string;
  /** Makes one INSERT into {@link table} (out of band, e.g. SQL); absent: changes.13 skips. */
  readonly insert?: () => Promise<void>;
  /**
   * Runs SQL on the database the server under test streams changes from: the writes of the `rows` cases (INSERT,
   * UPDATE, DELETE, one transaction of several statements) into the tables of row-tables.ts. pgrt's fixture runs it
   * itself; the CLI with `--database-url` / `PGRT_SUPABASE_CONFORMANCE_DATABASE_URL`. Absent: the `rows` cases are
   * not applicable (skipped, never passed).
   */
  readonly sql?: Sql;
  /** Whether the server serves broadcast (with `self`); absent/false: the `binary` cases skip. */
  readonly broadcast?: boolean;
  /** Run the `pgrt` group. */
  readonly pgrt: boolean;
  /** Default wait for one expected message, ms. */
  readonly waitMs: number;
}

/**
 * Runs `text` (one or more statements, values written into it; no parameters) in one database session and resolves
 * with the rows of its last statement.
 */
export type Sql = (text: string) => Promise<Record<string, unknown>[]>;

/** What a case runs with. Clients it opens are closed by the runner after the case, pass or fail. */
export interface CaseContext {
  readonly options: SuiteOptions;
  /** Opens a socket speaking `vsn` (default 2.0.0, realtime-js's default). */
  open(vsn?: '1.0.0' | '2.0.0'): Promise<PhoenixTestClient>;
}

/** One conformance case. */
export interface ConformanceCase {
  /** `<group>.<nn>`: its key in spec.ts. */
  readonly id: string;
  readonly group: CaseGroup;
  readonly title: string;
  /** A reason to skip for these options, or undefined. */
  readonly skip?: (options: SuiteOptions) => string | undefined;
  readonly run: (ctx: CaseContext) => Promise<void>;
}

/** The case's citation. */
export function citationOf(testCase: ConformanceCase): SupabaseCitation {
  const cite = SUPABASE_SPEC[testCase.id];
  if (!cite) throw new Error(`case ${testCase.id} has no citation in spec.ts`);
  return cite;
}

/** How binding the case is. */
export function levelOf(testCase: ConformanceCase): SupabaseLevel {
  return citationOf(testCase).level;
}

/** Why the case skips for `options`, or undefined. */
export function skipReason(testCase: ConformanceCase, options: SuiteOptions): string | undefined {
  if (testCase.group === 'pgrt' && !options.pgrt) return 'pgrt group (--pgrt)';
  return testCase.skip?.(options);
}

/** The URL with `vsn` set. */
export function withVsn(url: string, vsn: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set('vsn', vsn);
  return parsed.toString();
}
