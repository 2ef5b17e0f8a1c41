/**
 * The documents of the memory and core fan-out scenarios (bench/memory.ts, bench/fanout-core.ts), made the same way
 * for pgrt (as rows of `bench_docs`, {@link fillBenchDocs}) and for the peer (in its own process): `count` documents
 * of about 200 bytes each, like the presentations example's rows (a title, a subtitle, an author, a number and a
 * date).
 */

/** One document's fields, without its id. */
export interface BenchDocument {
  readonly title: string;
  readonly subtitle: string;
  readonly author: string;
  readonly n: number;
  readonly created_at: Date;
}

const WORDS = ['realtime', 'postgres', 'session', 'merge', 'observer', 'cursor', 'client', 'change', 'wire'];

function words(seed: number, count: number): string {
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(WORDS[(seed * 7 + i * 13) % WORDS.length]!);
  return out.join(' ');
}

/** The id of document `i` (text keys, as the presentations example uses). */
export function benchDocumentId(i: number): string {
  return `doc-${String(i).padStart(5, '0')}`;
}

/** Document `i`: about 200 bytes of field values (title ~60, subtitle ~100, author ~15, a number, a date). */
export function benchDocument(i: number): BenchDocument {
  return {
    title: `${words(i, 6)} ${i}`.slice(0, 60),
    subtitle: `${words(i + 3, 12)} ${i}`.slice(0, 100),
    author: `author ${i % 97}`,
    n: i,
    created_at: new Date(Date.UTC(2026, 0, 1) + i * 60_000),
  };
}

/** What {@link fillBenchDocs} needs of a connection (pg's `Client` or `Pool`). */
interface Writer {
  query(text: string, values?: unknown[]): Promise<unknown>;
}

/**
 * Replaces the rows of `bench_docs` with documents 0 … `count` − 1, in one INSERT (at most 10,922 documents: six
 * parameters each, PostgreSQL takes 65,535).
 */
export async function fillBenchDocs(writer: Writer, count: number): Promise<void> {
  await writer.query('TRUNCATE bench_docs');
  const values: unknown[] = [];
  const rows: string[] = [];
  for (let i = 0; i < count; i++) {
    const d = benchDocument(i);
    const p = values.length;
    rows.push(`($${p + 1}, $${p + 2}, $${p + 3}, $${p + 4}, $${p + 5}, $${p + 6})`);
    values.push(benchDocumentId(i), d.title, d.subtitle, d.author, d.n, d.created_at);
  }
  await writer.query(
    `INSERT INTO bench_docs (id, title, subtitle, author, n, created_at) VALUES ${rows.join(', ')}`,
    values,
  );
}
