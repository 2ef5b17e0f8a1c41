/**
 * pgrt's logical replication client (core/capture/logical/replication-client.ts + decoder.ts) against npm
 * `pg-logical-replication` (its pgoutput plugin), decoding the same WAL backlog — `rows` inserted in transactions
 * of 1,000, before either starts — from two slots of a private PostgreSQL (wal_level=logical), in one process, in
 * alternating order per round. Prints rows/s (wall, until the last row is decoded) and this process's CPU per row,
 * per round and as medians. The package is not a dependency of pgrt (issue 14: evaluated, not adopted):
 *
 *   npm install --no-save pg-logical-replication@2.5.0 && npx tsx bench/logical-client.ts [rows=50000] [rounds=3]
 */
import pg from 'pg';
import { LogicalStream } from '../core/capture/logical/replication-client.js';
import { PgDatabase } from '../core/database/database.js';
import { PrivatePostgres } from '../test/fixtures/private-postgres.js';

const PACKAGE = 'pg-logical-replication';
const plr = (await import(PACKAGE).catch(() => {
  console.error(`${PACKAGE} is not installed: npm install --no-save ${PACKAGE}@2.5.0`);
  process.exit(2);
})) as unknown as {
  LogicalReplicationService: new (
    config: object,
    options?: object,
  ) => {
    on(event: string, fn: (...args: unknown[]) => void): void;
    subscribe(p: unknown, s: string, lsn?: string): Promise<unknown>;
    stop(): Promise<void>;
  };
  PgoutputPlugin: new (options: object) => unknown;
};

const ROWS = Number(process.argv[2] ?? 50_000);
const ROUNDS = Number(process.argv[3] ?? 3);
const server = await PrivatePostgres.create('plr');
const db = new PgDatabase(server.url, { poolSize: 2 });
const admin = new pg.Client(server.url);
await admin.connect();
await admin.query(
  'CREATE TABLE plr_rows (id bigserial PRIMARY KEY, a int, b text, c timestamptz DEFAULT now(), d numeric, e jsonb)',
);
await admin.query('CREATE PUBLICATION pgrt_capture FOR TABLE plr_rows');

function cpu(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

async function ours(slot: string): Promise<{ ms: number; cpuMs: number; rows: number }> {
  let rows = 0;
  const t0 = performance.now();
  const c0 = cpu();
  let done!: () => void;
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  const stream = await LogicalStream.open(db, 0n, {
    slot,
    onTransaction: (tx) => {
      rows += tx.changes.length;
      stream.confirm(tx.endLsn, 1);
      if (rows >= ROWS) done();
    },
    onEnd: () => {},
  });
  await finished;
  const result = { ms: performance.now() - t0, cpuMs: cpu() - c0, rows };
  await stream.close();
  return result;
}

async function library(slot: string): Promise<{ ms: number; cpuMs: number; rows: number }> {
  let rows = 0;
  const t0 = performance.now();
  const c0 = cpu();
  const service = new plr.LogicalReplicationService(
    { connectionString: server.url },
    { acknowledge: { auto: true, timeoutSeconds: 10 } },
  );
  const plugin = new plr.PgoutputPlugin({
    protoVersion: 1,
    publicationNames: ['pgrt_capture'],
    messages: true,
  });
  let done!: () => void;
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  service.on('data', (_lsn: unknown, message: unknown) => {
    const tag = (message as { tag?: string }).tag;
    if (tag === 'insert' || tag === 'update' || tag === 'delete') rows++;
    if (rows >= ROWS) done();
  });
  service.subscribe(plugin, slot).catch(() => {});
  await finished;
  const result = { ms: performance.now() - t0, cpuMs: cpu() - c0, rows };
  await service.stop();
  return result;
}

const results: Record<string, Array<{ rowsPerS: number; cpuUsPerRow: number }>> = { ours: [], library: [] };
for (let round = 0; round < ROUNDS; round++) {
  const a = `plr_a_${round}`;
  const b = `plr_b_${round}`;
  await admin.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [a]);
  await admin.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [b]);
  // The backlog: ROWS rows in transactions of 100.
  for (let i = 0; i < ROWS; i += 1000) {
    await admin.query(
      `INSERT INTO plr_rows (a, b, d, e) SELECT g, md5(g::text), g * 1.5, jsonb_build_object('g', g)
         FROM generate_series($1::int, $1::int + 999) g`,
      [i],
    );
  }
  const order = round % 2 === 0 ? (['ours', 'library'] as const) : (['library', 'ours'] as const);
  for (const who of order) {
    const r = who === 'ours' ? await ours(a) : await library(b);
    results[who]!.push({ rowsPerS: (r.rows / r.ms) * 1000, cpuUsPerRow: (r.cpuMs * 1000) / r.rows });
    console.log(
      `round ${round + 1} ${who}: ${r.rows} rows in ${r.ms.toFixed(0)} ms, CPU ${r.cpuMs.toFixed(0)} ms`,
    );
  }
  await admin.query('SELECT pg_drop_replication_slot($1)', [a]).catch(() => {});
  await admin.query('SELECT pg_drop_replication_slot($1)', [b]).catch(() => {});
  await admin.query('TRUNCATE plr_rows');
}
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
for (const who of ['ours', 'library'] as const) {
  const r = results[who]!;
  console.log(
    `${who}: median ${median(r.map((x) => x.rowsPerS)).toFixed(0)} rows/s, ${median(r.map((x) => x.cpuUsPerRow)).toFixed(2)} µs CPU per row (${r.length} rounds)`,
  );
}
await admin.end();
await db.close();
await server.destroy();
