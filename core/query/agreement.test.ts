/**
 * The compiler's central promise, checked against a real PostgreSQL: for random selectors, sorts and windows over
 * a table holding every column kind and awkward values (NULLs, astral and private-use characters, NaN and
 * infinities, negative and fractional decimals, JSON nulls), `SELECT … WHERE where ORDER BY orderBy LIMIT/OFFSET`
 * returns exactly the ids of `docs.filter(matches).sort(compare).slice(…)`. The in-memory documents are decoded
 * from `to_jsonb(t)` following core/database/table-info.ts, as change notifications are.
 */
import assert from 'node:assert/strict';
import pg from 'pg';
import { testDatabaseUrl } from '../../test/support/database.js';
import type { ColumnInfo, ColumnKind, Row, TableInfo } from '../database/table-info.js';
import { compileQuery, type QueryOptions, type Selector, selectStatement } from './compile.js';

const SEED = Number(process.env.PGRT_QUERY_SEED ?? 20240611);
const ROWS = 220;
const QUERIES = 400;

/** mulberry32: a small deterministic PRNG, so a failure can be replayed with PGRT_QUERY_SEED. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = prng(SEED);
const int = (n: number): number => Math.floor(random() * n);
const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;

const STRINGS = [
  '',
  ' ',
  'a',
  'A',
  'aa',
  'ab',
  'B',
  'b',
  'e',
  'é',
  'e\u0301',
  'z',
  'Z',
  '😀',
  '😀a',
  'a😀',
  '\uFFFD',
  '\uE000',
  '\uFB00',
  '日本',
  'ab ',
  'abc',
];
const DATES = [new Date('2020-01-01T00:00:00.000Z'), new Date('1999-12-31T23:59:59.999Z'), new Date(0)];
const UUIDS = [
  '00000000-0000-0000-0000-000000000000',
  '7f000000-0000-4000-8000-000000000001',
  '80000000-0000-4000-8000-000000000001',
  'ffffffff-ffff-4fff-bfff-ffffffffffff',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
];
const JSONS: unknown[] = [
  { color: 'red', size: 2 },
  { size: 2, color: 'red' },
  { color: 'blue' },
  { color: null },
  { color: 'red', meta: { x: 1 } },
  { meta: { x: 1 } },
  { meta: { x: 'red' } },
  { color: ['red'] },
  [1, 2],
  [2, 1],
  'red',
  3,
  true,
  null,
];

/** Each column: SQL type, kind, and a pool of in-memory values (rows and operands draw from it). */
interface ColumnSpec {
  readonly name: string;
  readonly sqlType: string;
  readonly kind: ColumnKind;
  readonly pool: () => unknown;
}

const COLUMNS: ColumnSpec[] = [
  { name: 's', sqlType: 'text', kind: 'text', pool: () => pick(STRINGS) },
  { name: 'si', sqlType: 'text', kind: 'text', pool: () => pick(STRINGS) }, // collation set below when ICU exists
  { name: 'vc', sqlType: 'varchar(5)', kind: 'text', pool: () => pick(STRINGS) },
  { name: 'ch', sqlType: 'char(4)', kind: 'text', pool: () => pick(['', 'a', 'ab', 'abcd', 'é', 'A ']) },
  {
    name: 'i',
    sqlType: 'integer',
    kind: 'int',
    pool: () => pick([-2147483648, 2147483647, 0, -1, 1, 2, 7, -7]),
  },
  {
    name: 'b8',
    sqlType: 'bigint',
    kind: 'bigint',
    pool: () =>
      pick([
        '-9223372036854775808',
        '9223372036854775807',
        '0',
        '-1',
        '12',
        '9007199254740993',
        '-100',
        '99',
      ]),
  },
  {
    name: 'n',
    sqlType: 'numeric',
    kind: 'numeric',
    pool: () =>
      pick([
        '0',
        '-0.5',
        '1.50',
        '1.5',
        '10',
        '-10.25',
        'NaN',
        'Infinity',
        '-Infinity',
        '0.001',
        '1e30',
        '-2',
      ]),
  },
  {
    name: 'f',
    sqlType: 'double precision',
    kind: 'float',
    pool: () => pick([Number.NaN, Infinity, -Infinity, 0, -0, 1.5, -2.25, 0.1, 1e300, -1e-300, 3]),
  },
  {
    name: 'r',
    sqlType: 'real',
    kind: 'float',
    pool: () => pick([0.1, 1.5, Number.NaN, -Infinity, 16777217, 0.3]),
  },
  { name: 'ok', sqlType: 'boolean', kind: 'bool', pool: () => random() < 0.5 },
  {
    name: 'ts',
    sqlType: 'timestamptz',
    kind: 'timestamptz',
    pool: () =>
      random() < 0.5 ? pick(DATES) : new Date(Date.UTC(2000 + int(30), int(12), 1 + int(28), int(24))),
  },
  { name: 'tl', sqlType: 'timestamp(3)', kind: 'timestamp', pool: () => pick(DATES) },
  {
    name: 'd',
    sqlType: 'date',
    kind: 'date',
    pool: () => pick(['2020-01-01', '1999-12-31', '2020-02-29', '0001-01-01']),
  },
  { name: 'j', sqlType: 'jsonb', kind: 'json', pool: () => pick(JSONS) },
  { name: 'js', sqlType: 'json', kind: 'json', pool: () => pick(JSONS) },
  {
    name: 'bin',
    sqlType: 'bytea',
    kind: 'bytea',
    pool: () => new Uint8Array(pick([[], [0], [0, 1], [1], [255], [0, 0], [1, 0, 255]])),
  },
  { name: 'u', sqlType: 'uuid', kind: 'uuid', pool: () => pick(UUIDS) },
];

/** Text form of an in-memory value for an INSERT parameter cast to the column type. */
function toParam(kind: ColumnKind, value: unknown): string | Buffer {
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return Buffer.from(value);
  if (kind === 'json') return JSON.stringify(value);
  return String(value);
}

/** Decodes one `to_jsonb(t)` object (plus `::text` of bigint/numeric columns) per table-info.ts. */
function decode(
  table: TableInfo,
  json: Record<string, unknown>,
  decimals: Record<string, string | null>,
): Row {
  const doc: Row = {};
  for (const column of table.columns.values()) {
    const raw =
      column.kind === 'bigint' || column.kind === 'numeric' ? decimals[column.name] : json[column.name];
    if (raw === null || raw === undefined) continue;
    switch (column.kind) {
      case 'float':
        doc[column.name] = Number(raw);
        break;
      case 'timestamptz':
        doc[column.name] = new Date(String(raw));
        break;
      case 'timestamp':
        doc[column.name] = new Date(`${String(raw)}Z`);
        break;
      case 'bytea':
        doc[column.name] = new Uint8Array(Buffer.from(String(raw).slice(2), 'hex'));
        break;
      default:
        doc[column.name] = raw;
    }
  }
  return doc;
}

/** A random operator condition on `field` with operands drawn from `pool`. */
function condition(kind: ColumnKind | 'path', pool: () => unknown): unknown {
  const orderable = kind !== 'json' && kind !== 'path';
  const operand = (): unknown => {
    const value = pool();
    if (kind === 'bigint' && typeof value === 'string' && random() < 0.3) {
      const big = BigInt(value);
      return Number.isSafeInteger(Number(big)) && random() < 0.5 ? Number(big) : big;
    }
    if (kind === 'numeric' && value === '1.5' && random() < 0.5) return 1.5;
    return value;
  };
  const nonNull = (): unknown => {
    for (;;) {
      const value = operand();
      if (value !== null) return value;
    }
  };
  const list = (): unknown[] => Array.from({ length: int(4) }, () => (random() < 0.15 ? null : operand()));
  const ops = ['eq', 'implicit', 'null', '$ne', '$ne-null', '$in', '$nin', '$exists', '$not'];
  if (orderable) ops.push('$gt', '$gte', '$lt', '$lte', 'range', 'range');
  const op = pick(ops);
  switch (op) {
    case 'implicit':
      return nonNull();
    case 'eq':
      return { $eq: operand() };
    case 'null':
      return null;
    case '$ne':
      return { $ne: operand() };
    case '$ne-null':
      return { $ne: null };
    case '$in':
      return { $in: list() };
    case '$nin':
      return { $nin: list() };
    case '$exists':
      return { $exists: random() < 0.5 };
    case '$not':
      return { $not: orderable ? { [pick(['$gt', '$lte'])]: nonNull() } : { $in: list() } };
    case 'range':
      return { [pick(['$gt', '$gte'])]: nonNull(), [pick(['$lt', '$lte'])]: nonNull() };
    default:
      return { [op]: nonNull() };
  }
}

const PATHS: Array<[string, () => unknown]> = [
  ['j.color', () => pick(['red', 'blue', ['red'], null, 1])],
  ['j.meta.x', () => pick([1, 'red', null, { x: 1 }])],
  ['js.color', () => pick(['red', 'blue', null])],
  ['j.meta', () => pick([{ x: 1 }, { x: 'red' }, null])],
];

function leaf(): Selector {
  if (random() < 0.15) {
    const [name, pool] = pick(PATHS);
    return { [name]: condition('path', pool) };
  }
  if (random() < 0.1) return { _id: condition('text', () => `k${int(ROWS + 10)}`) };
  const column = pick(COLUMNS);
  return { [column.name]: condition(column.kind, column.pool) };
}

function selector(depth: number): Selector {
  const out: Record<string, unknown> = {};
  const n = int(3);
  for (let i = 0; i < n; i++) Object.assign(out, leaf());
  if (depth > 0 && random() < 0.4) {
    const op = pick(['$and', '$or', '$nor']);
    out[op] = Array.from({ length: 1 + int(3) }, () => selector(depth - 1));
  }
  return out;
}

function options(): QueryOptions {
  const sortable = COLUMNS.filter((c) => c.kind !== 'json').map((c) => c.name);
  const fields = Array.from({ length: int(4) }, () => pick([...sortable, '_id']));
  const unique = [...new Set(fields)];
  const sort =
    random() < 0.5
      ? Object.fromEntries(unique.map((name) => [name, random() < 0.5 ? 1 : -1] as const))
      : unique.map((name) => [name, random() < 0.5 ? 'asc' : 'desc'] as const);
  return {
    sort,
    limit: random() < 0.5 ? undefined : int(40),
    skip: random() < 0.5 ? 0 : int(20),
  };
}

function describe_(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'bigint') return `${v}n`;
    if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
    if (v instanceof Uint8Array) return `bytes:${Buffer.from(v).toString('hex')}`;
    return v;
  });
}

describe('query compiler: SQL and memory agree on a real table', () => {
  const tableName = `query_agree_${process.pid}`;
  let client: pg.Client;
  let table: TableInfo;
  let docs: Row[];

  before(async () => {
    client = new pg.Client(testDatabaseUrl());
    await client.connect();
    const icu = await client.query("SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu'");
    const columnsSql = COLUMNS.map((c) => {
      const collate = c.name === 'si' && icu.rowCount ? ' COLLATE "und-x-icu"' : '';
      return `"${c.name}" ${c.sqlType}${collate}`;
    });
    // A non-C collation on the key as well, so that a missing COLLATE "C" in the tie-break shows.
    const keyCollate = icu.rowCount ? ' COLLATE "und-x-icu"' : '';
    await client.query(
      `CREATE TABLE ${tableName} (id text${keyCollate} PRIMARY KEY, ${columnsSql.join(', ')})`,
    );
    const types = await client.query<{ name: string; type: string }>(
      `SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute
       WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
      [tableName],
    );
    const kinds = new Map<string, ColumnKind>(COLUMNS.map((c) => [c.name, c.kind]));
    const columns = new Map<string, ColumnInfo>(
      types.rows.map((r) => [r.name, { name: r.name, kind: kinds.get(r.name) ?? 'text', pgType: r.type }]),
    );
    table = {
      schema: 'public',
      name: tableName,
      qualifiedName: `public.${tableName}`,
      key: columns.get('id') as ColumnInfo,
      columns,
    };
    const ids = ['k0', 'K0', 'k😀', 'k\uFFFD', 'k\uE000', 'ké', 'k'];
    for (let i = 0; i < ROWS; i++) {
      const id = ids[i] ?? `k${i}`;
      const values = COLUMNS.map((c) => (random() < 0.2 ? null : toParam(c.kind, c.pool())));
      const placeholders = COLUMNS.map((c, n) => `$${n + 2}::${c.sqlType}`).join(', ');
      await client.query(`INSERT INTO ${tableName} VALUES ($1, ${placeholders})`, [id, ...values]);
    }
    const result = await client.query<{ doc: Record<string, unknown>; b8: string | null; n: string | null }>(
      `SELECT to_jsonb(t) AS doc, t.b8::text AS b8, t.n::text AS n FROM ${tableName} t`,
    );
    docs = result.rows.map((r) => decode(table, r.doc, { b8: r.b8, n: r.n }));
  });

  after(async () => {
    await client.query(`DROP TABLE IF EXISTS ${tableName}`);
    await client.end();
  });

  it(`returns the same ids for ${QUERIES} random queries (seed ${SEED})`, async () => {
    let nonEmpty = 0;
    for (let q = 0; q < QUERIES; q++) {
      const sel = selector(2);
      const opts = options();
      const query = compileQuery(table, sel, opts);
      const statement = selectStatement(query, 't.id');
      const sql = (await client.query<{ id: string }>(statement.text, statement.values)).rows.map(
        (r) => r.id,
      );
      const end = query.limit === undefined ? undefined : query.skip + query.limit;
      const memory = docs
        .filter((doc) => query.matches(doc))
        .sort((a, b) => query.compare(a, b))
        .slice(query.skip, end)
        .map((doc) => doc.id);
      if (sql.length > 0) nonEmpty++;
      assert.deepEqual(
        memory,
        sql,
        `query ${q} disagrees\nselector ${describe_(sel)}\noptions ${describe_(opts)}\n${statement.text}\n${describe_(statement.values)}`,
      );
    }
    // The generator must produce selective and non-trivial queries, or the agreement proves little.
    assert.ok(nonEmpty > QUERIES / 4, `only ${nonEmpty} queries returned rows`);
  });

  it('orders every row identically without a selector, for every sortable column and direction', async () => {
    for (const column of COLUMNS.filter((c) => c.kind !== 'json')) {
      for (const direction of [1, -1] as const) {
        const query = compileQuery(table, {}, { sort: { [column.name]: direction } });
        const statement = selectStatement(query, 't.id');
        const sql = (await client.query<{ id: string }>(statement.text, statement.values)).rows.map(
          (r) => r.id,
        );
        const memory = [...docs].sort((a, b) => query.compare(a, b)).map((doc) => doc.id);
        assert.deepEqual(memory, sql, `sort ${column.name} ${direction}`);
      }
    }
  });
});
