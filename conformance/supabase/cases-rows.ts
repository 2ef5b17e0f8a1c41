/**
 * The `rows` cases: what a change's `data` holds and which bindings it reaches, for rows the case writes itself
 * through the suite's SQL hook (case.ts `sql`) into the tables of row-tables.ts. Without the hook they are not
 * applicable and skip. Each case's rows carry a `body` of their own, so other writers' rows are ignored.
 */
import assert from 'node:assert/strict';
import type { ConformanceCase, Sql, SuiteOptions } from './case.js';
import type { PhoenixTestClient } from './client.js';
import { eventIs, join, joinPayload, nextCount, topic, type V2 } from './frames.js';
import { FULL_TABLE, KEYED_TABLE } from './row-tables.js';

type Table = typeof KEYED_TABLE | typeof FULL_TABLE;
type Row = Record<string, unknown>;

/** The `data` of a postgres_changes push. */
interface ChangeData {
  readonly type: string;
  readonly commit_timestamp: unknown;
  readonly record?: Row;
  readonly old_record?: Row;
}

/** A postgres_changes push. */
interface Change {
  readonly ids: unknown[];
  readonly data: ChangeData;
}

const needsSql = (options: SuiteOptions): string | undefined =>
  options.sql
    ? undefined
    : 'not applicable: no way to write rows (--database-url or PGRT_SUPABASE_CONFORMANCE_DATABASE_URL)';

/** A `body` no other case run writes: letters and digits only, so it is safe in filters and SQL literals. */
const marker = (): string => `conf${process.pid}n${nextCount()}`;

const qualified = (table: Table): string => `${table.schema}.${table.table}`;

/** `text` as an SQL literal: callers pass markers and fixed words only. */
const literal = (text: string): string => `'${text.replaceAll("'", "''")}'`;

/** to_char of a timestamptz as Supabase writes commit_timestamp. */
const utcMs = (expression: string): string =>
  `to_char((${expression}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** Joins `name` with `bindings` (of `table`), waits for "Subscribed to PostgreSQL", returns the binding ids. */
async function subscribe(
  client: PhoenixTestClient,
  name: string,
  table: Table,
  bindings: readonly { event: string; filter?: string }[],
): Promise<unknown[]> {
  const sent = bindings.map((b) => ({ ...b, schema: table.schema, table: table.table }));
  const response = await join(client, name, joinPayload(sent));
  const system = await client.waitFor<V2>(eventIs(name, 'system'), 'system message');
  assert.equal(system[4].status, 'ok', `subscribed to ${qualified(table)}: ${JSON.stringify(system[4])}`);
  return (response.postgres_changes as { id: unknown }[]).map((binding) => binding.id);
}

/** Waits for `count` postgres_changes pushes on `name` that `mine` accepts, and returns them in arrival order. */
async function awaitChanges(
  client: PhoenixTestClient,
  name: string,
  count: number,
  mine: (data: ChangeData) => boolean,
): Promise<Change[]> {
  let found: Change[] = [];
  await client.waitFor(() => {
    found = client.frames
      .filter(eventIs(name, 'postgres_changes'))
      .map((frame) => (frame as V2)[4] as unknown as Change)
      .filter((change) => mine(change.data));
    return found.length >= count;
  }, `${count} postgres_changes pushes of this case's rows`);
  return found;
}

/** Inserts one row (`columns` as SQL values) and returns its id. */
async function insertRow(sql: Sql, table: Table, columns: Readonly<Record<string, string>>): Promise<number> {
  const names = Object.keys(columns).join(', ');
  const values = Object.values(columns).join(', ');
  const [row] = await sql(`INSERT INTO ${qualified(table)} (${names}) VALUES (${values}) RETURNING id`);
  return Number(row?.id);
}

/** Inserts, updates and deletes one row of `table`; returns its INSERT, UPDATE and DELETE pushes and its id. */
async function rowLifecycle(
  open: () => Promise<PhoenixTestClient>,
  sql: Sql,
  table: Table,
): Promise<{ id: number; changes: Change[] }> {
  const client = await open();
  const name = topic('old');
  await subscribe(client, name, table, [{ event: '*' }]);
  const body = marker();
  const id = await insertRow(sql, table, {
    body: literal(body),
    note: literal('before'),
    flag: 'true',
    price: '12.5',
  });
  await sql(`UPDATE ${qualified(table)} SET note = 'after' WHERE id = ${id}`);
  await sql(`DELETE FROM ${qualified(table)} WHERE id = ${id}`);
  const changes = await awaitChanges(
    client,
    name,
    3,
    (data) => data.record?.body === body || data.old_record?.id === id,
  );
  assert.deepEqual(
    changes.map((change) => change.data.type),
    ['INSERT', 'UPDATE', 'DELETE'],
  );
  return { id, changes };
}

/**
 * Checks that an INSERT, UPDATE and DELETE push hold the records they should (an INSERT no old_record, a DELETE no
 * record) and returns the inserted record, the updated record and the UPDATE's old_record.
 */
function assertRecordsPresent([insert, update, remove]: Change[]): [Row, Row, Row] {
  assert.ok(insert && update && remove);
  assert.ok(!('old_record' in insert.data), 'an INSERT has no old_record');
  assert.ok(!('record' in remove.data), 'a DELETE has no record');
  assert.equal(typeof insert.data.record, 'object');
  assert.equal(typeof update.data.record, 'object');
  return [insert.data.record as Row, update.data.record as Row, update.data.old_record as Row];
}

/** A row of a filter case: its whole `body` and other columns as SQL values. */
interface FilterRow {
  readonly body: string;
  readonly columns?: Readonly<Record<string, string>>;
}

/**
 * Subscribes a channel to INSERTs of the keyed table with a catch-all binding first and one binding per filter,
 * inserts `rows`, and asserts which filters each row reached: `expected[i]` lists the indexes into `filters` row i
 * reaches. The catch-all reaches every row, so each row gets one push whose `ids` name every binding it matched.
 */
async function assertFilters(
  open: () => Promise<PhoenixTestClient>,
  sql: Sql,
  filters: readonly string[],
  rows: readonly FilterRow[],
  expected: readonly (readonly number[])[],
): Promise<void> {
  const client = await open();
  const name = topic('filters');
  const ids = await subscribe(client, name, KEYED_TABLE, [
    { event: 'INSERT' },
    ...filters.map((filter) => ({ event: 'INSERT', filter })),
  ]);
  for (const row of rows) await insertRow(sql, KEYED_TABLE, { ...row.columns, body: literal(row.body) });
  const bodies = rows.map((row) => row.body);
  const changes = await awaitChanges(client, name, rows.length, (data) =>
    bodies.includes(String(data.record?.body)),
  );
  const reached = (change: Change): string[] => filters.filter((_, f) => change.ids.includes(ids[f + 1]));
  assert.deepEqual(
    changes.map((change) => ({ body: change.data.record?.body, filters: reached(change) })),
    bodies.map((body, i) => ({ body, filters: (expected[i] ?? []).map((f) => filters[f]) })),
  );
}

/** What a filter case checks: its filters, its rows, and which filters (indexes) each row reaches. */
interface FilterTable {
  readonly filters: readonly string[];
  readonly rows: readonly FilterRow[];
  readonly reached: readonly (readonly number[])[];
}

/** A `rows` case of {@link assertFilters}; `table` gets the case's marker, which starts every row's body. */
function filterCase(id: string, title: string, table: (m: string) => FilterTable): ConformanceCase {
  return {
    id,
    group: 'rows',
    title,
    skip: needsSql,
    run: async ({ open, options }) => {
      const { filters, rows, reached } = table(marker());
      await assertFilters(open, options.sql as Sql, filters, rows, reached);
    },
  };
}

const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** The rows cases, in run order. */
export const rowCases: readonly ConformanceCase[] = [
  {
    id: 'rows.16',
    group: 'rows',
    title: 'REPLICA IDENTITY FULL: old_record of UPDATE and DELETE is the whole old row',
    skip: needsSql,
    run: async ({ open, options }) => {
      const { changes } = await rowLifecycle(open, options.sql as Sql, FULL_TABLE);
      const [inserted, updated, oldOfUpdate] = assertRecordsPresent(changes);
      assert.deepEqual(oldOfUpdate, inserted, "UPDATE's old_record is the row as inserted");
      assert.deepEqual(changes[2]?.data.old_record, updated, "DELETE's old_record is the row as updated");
    },
  },
  {
    id: 'rows.17',
    group: 'rows',
    title: 'REPLICA IDENTITY DEFAULT: old_record of UPDATE and DELETE is the primary key alone',
    skip: needsSql,
    run: async ({ open, options }) => {
      const { id, changes } = await rowLifecycle(open, options.sql as Sql, KEYED_TABLE);
      const [, updated, oldOfUpdate] = assertRecordsPresent(changes);
      assert.equal(updated.note, 'after');
      assert.deepEqual(oldOfUpdate, { id });
      assert.deepEqual(changes[2]?.data.old_record, { id });
    },
  },
  {
    id: 'rows.18',
    group: 'rows',
    title: "commit_timestamp is the transaction's time (ms, UTC), the same for all its changes",
    skip: needsSql,
    run: async ({ open, options }) => {
      const client = await open();
      const name = topic('commit');
      await subscribe(client, name, KEYED_TABLE, [{ event: 'INSERT' }]);
      const body = marker();
      const [times] = await (options.sql as Sql)(
        [
          'BEGIN;',
          `INSERT INTO ${qualified(KEYED_TABLE)} (body, note) VALUES (${literal(body)}, ${utcMs('now()')});`,
          'SELECT pg_sleep(0.05);',
          `INSERT INTO ${qualified(KEYED_TABLE)} (body) VALUES (${literal(body)});`,
          'COMMIT;',
          `SELECT ${utcMs('clock_timestamp()')} AS after;`,
        ].join('\n'),
      );
      const changes = await awaitChanges(client, name, 2, (data) => data.record?.body === body);
      const [first, second] = changes.map((change) => change.data.commit_timestamp);
      assert.match(String(first), ISO_MS, 'YYYY-MM-DDTHH:MM:SS.mmmZ');
      assert.equal(second, first, 'every change of one transaction has its time');
      const started = Date.parse(String(changes[0]?.data.record?.note));
      const after = Date.parse(String(times?.after));
      const at = Date.parse(String(first));
      assert.ok(
        at >= started && at <= after + 1,
        `${String(first)} lies between the transaction's start ${String(changes[0]?.data.record?.note)} and the time after its commit ${String(times?.after)}`,
      );
    },
  },
  filterCase('rows.19', 'filters like and ilike match SQL patterns (%, _), negated with not.', (m) => ({
    filters: [`body=like.${m}-A%`, `body=ilike.${m}-a%`, `body=like.${m}-_eta`, `body=not.like.${m}-A%`],
    rows: [{ body: `${m}-Alpha` }, { body: `${m}-alpha` }, { body: `${m}-beta` }],
    reached: [
      [0, 1],
      [1, 3],
      [2, 3],
    ],
  })),
  filterCase('rows.20', 'filters match and imatch search regular expressions, negated with not.', (m) => ({
    filters: [`body=match.^${m}-[ab]`, `body=imatch.^${m}-A`, `body=match.ta$`, `body=not.imatch.^${m}-a`],
    rows: [{ body: `${m}-Alpha` }, { body: `${m}-alpha` }, { body: `${m}-beta` }],
    reached: [[1], [0, 1], [0, 2, 3]],
  })),
  filterCase(
    'rows.21',
    'filters is (null, true, false, unknown) and isdistinct treat NULL as SQL does, negated with not.',
    (m) => ({
      filters: [
        'note=is.null',
        'flag=is.true',
        'flag=is.false',
        'flag=is.unknown',
        'flag=not.is.true',
        'note=isdistinct.x',
        'note=not.isdistinct.x',
      ],
      rows: [
        { body: `${m}-1`, columns: { note: 'NULL', flag: 'true' } },
        { body: `${m}-2`, columns: { note: "'x'", flag: 'false' } },
        { body: `${m}-3`, columns: { note: "'y'", flag: 'NULL' } },
      ],
      reached: [
        [0, 1, 5],
        [2, 4, 6],
        [3, 4, 5],
      ],
    }),
  ),
  {
    id: 'rows.22',
    group: 'rows',
    title: 'a money value is written as the database writes it (its text, e.g. "$1,234.50")',
    skip: needsSql,
    run: async ({ open, options }) => {
      const sql = options.sql as Sql;
      const client = await open();
      const name = topic('money');
      await subscribe(client, name, KEYED_TABLE, [{ event: 'INSERT' }]);
      const body = marker();
      const ids = [
        await insertRow(sql, KEYED_TABLE, { body: literal(body), price: '1234.5' }),
        await insertRow(sql, KEYED_TABLE, { body: literal(body), price: '-0.07' }),
      ];
      const texts = await sql(
        `SELECT price::text AS price FROM ${qualified(KEYED_TABLE)} WHERE id IN (${ids.join(', ')}) ORDER BY id`,
      );
      const changes = await awaitChanges(client, name, 2, (data) => data.record?.body === body);
      assert.deepEqual(
        changes.map((change) => change.data.record?.price),
        texts.map((row) => row.price),
      );
    },
  },
  {
    id: 'rows.23',
    group: 'rows',
    title: "REPLICA IDENTITY FULL: a DELETE's filter is tested on the old row",
    skip: needsSql,
    run: async ({ open, options }) => {
      const sql = options.sql as Sql;
      const client = await open();
      const name = topic('delete-filter');
      const body = marker();
      const ids = await subscribe(client, name, FULL_TABLE, [
        { event: 'DELETE' },
        { event: 'DELETE', filter: `note=eq.${body}` },
        { event: 'DELETE', filter: `note=neq.${body}` },
      ]);
      const id = await insertRow(sql, FULL_TABLE, { body: literal(body), note: literal(body) });
      await sql(`DELETE FROM ${qualified(FULL_TABLE)} WHERE id = ${id}`);
      const [change] = await awaitChanges(client, name, 1, (data) => data.old_record?.id === id);
      assert.deepEqual(
        [ids[0], ids[1], ids[2]].map((bindingId) => change?.ids.includes(bindingId)),
        [true, true, false],
        'the DELETE reaches the catch-all and note=eq.<its note>, not note=neq.<its note>',
      );
    },
  },
];
