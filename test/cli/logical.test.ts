/**
 * `pgrt migrate` and `pgrt doctor` in capture mode `logical` (child processes, as users run them), against a PRIVATE
 * embedded PostgreSQL with `wal_level=logical`: doctor before anything is installed (slot missing), migrate (tables
 * in publication `pgrt_capture` and `pgrt.logical_tables`, no triggers, the slot created — so a row written before
 * any server started still reaches the outbox once one does), doctor while a server streams the slot (active),
 * doctor in notify mode (the slot left over retains WAL), doctor as a role without REPLICATION, doctor on a slot
 * invalidated by `max_slot_wal_keep_size`, and migrate against the embedded server (no database URL), which must run
 * with `wal_level=logical`. The shared replica-level test
 * server's refusals are in cli.test.ts.
 */
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { PrivatePostgres } from '../fixtures/private-postgres.js';
import { waitUntil } from '../fixtures/wait.js';
import { runCli, type ServeProcess, startServe } from './fixtures/cli-process.js';

const APP = 'test/cli/fixtures/notes-app.ts';
const LOGICAL = ['--set', 'capture=logical'];

describe('pgrt migrate and doctor in capture mode logical (child processes, private server)', function () {
  this.timeout(120_000);
  let server: PrivatePostgres;
  let admin: pg.Client;
  let slot: string;
  let serve: ServeProcess | undefined;

  before(async () => {
    server = await PrivatePostgres.create('cli_logical');
    admin = new pg.Client(server.url);
    await admin.connect();
    const oid = await admin.query<{ oid: string }>(
      'SELECT oid::text FROM pg_database WHERE datname = current_database()',
    );
    slot = `pgrt_${oid.rows[0]?.oid}`;
  });

  after(async () => {
    if (serve && serve.child.exitCode === null) await serve.stop();
    await admin?.end().catch(() => {});
    await server?.destroy();
  });

  /** The capture slot as pg_replication_slots shows it, if it exists. */
  async function readSlot(): Promise<{ plugin: string; active: boolean } | undefined> {
    const result = await admin.query<{ plugin: string; active: boolean }>(
      'SELECT plugin, active FROM pg_replication_slots WHERE slot_name = $1',
      [slot],
    );
    return result.rows[0];
  }

  it('doctor before migrate: wal_level and replication ok, table and slot not there yet (warnings)', async () => {
    const result = await runCli(['doctor', APP, '--database-url', server.url, ...LOGICAL]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /\(capture logical\)$/m);
    assert.match(result.stdout, /^warn +pgrt schema: not installed yet/m);
    assert.match(result.stdout, /^warn +table cli_notes: missing/m);
    assert.match(result.stdout, /^ok +wal_level: logical/m);
    assert.match(result.stdout, /^ok +replication: postgres may open a replication connection/m);
    assert.match(result.stdout, new RegExp(`^warn +capture slot ${slot}: missing: pgrt migrate`, 'm'));
    assert.match(result.stdout, /checks: 0 failed/);
  });

  it('migrate publishes and registers the tables (no triggers) and creates the slot, idempotently', async () => {
    for (let run = 0; run < 2; run++) {
      const result = await runCli(['migrate', APP, '--database-url', server.url, ...LOGICAL]);
      assert.equal(result.code, 0, result.stderr + result.stdout);
      assert.match(result.stdout, /^migrations \(pgrt \d+\) under the start-up lock …$/m);
      assert.match(result.stdout, /^migrations: \d+ applied, .*done/m);
      assert.match(
        result.stdout,
        /^\[1\/1\] logical capture \(publication pgrt_capture\) of cli_notes … done/m,
      );
      assert.match(result.stdout, new RegExp(`^capture slot ${slot} \\(pgoutput\\) … done`, 'm'));
      assert.doesNotMatch(result.stdout, /trigger/);
      assert.match(result.stdout, /migrate: ok/);
    }
    const triggers = await admin.query(
      "SELECT tgname FROM pg_trigger WHERE tgrelid = 'cli_notes'::regclass AND NOT tgisinternal",
    );
    assert.equal(triggers.rowCount, 0, 'no capture triggers in logical mode');
    const published = await admin.query(
      "SELECT 1 FROM pg_publication_tables WHERE pubname = 'pgrt_capture' AND tablename = 'cli_notes'",
    );
    assert.equal(published.rowCount, 1, 'cli_notes is in publication pgrt_capture');
    const registered = await admin.query<{ channel: string; key_column: string }>(
      "SELECT channel, key_column FROM pgrt.logical_tables WHERE table_name = 'public.cli_notes'",
    );
    assert.deepEqual(registered.rows, [{ channel: 'pgrt_changes', key_column: 'id' }]);
    assert.deepEqual(await readSlot(), { plugin: 'pgoutput', active: false });

    const doctor = await runCli(['doctor', APP, '--database-url', server.url, ...LOGICAL]);
    assert.equal(doctor.code, 0, doctor.stdout + doctor.stderr);
    assert.match(
      doctor.stdout,
      /^ok +table cli_notes: in publication pgrt_capture, registered in pgrt\.logical_tables$/m,
    );
    assert.match(
      doctor.stdout,
      new RegExp(
        `^ok +capture slot ${slot}: inactive \\(no pgrt process streams it\\), retains \\d+ \\w+ of WAL$`,
        'm',
      ),
    );
  });

  it('a row written after migrate and before any server reaches the outbox once a server starts', async () => {
    await admin.query(
      "INSERT INTO cli_notes (id, text) VALUES ('before-serve', 'written with no server up')",
    );
    serve = await startServe([
      APP,
      '--port',
      '0',
      '--host',
      '127.0.0.1',
      '--database-url',
      server.url,
      ...LOGICAL,
    ]);
    const appended = async (): Promise<number> => {
      const result = await admin.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pgrt.outbox WHERE payload::jsonb ->> 'k' = 'before-serve'",
      );
      return result.rows[0]?.n ?? 0;
    };
    await waitUntil(async () => (await appended()) > 0, {
      timeoutMs: 20_000,
      what: () => `the pump to append the row written before it started\n${serve?.stderr()}`,
    });
    assert.equal(await appended(), 1, 'appended once');

    const doctor = await runCli(['doctor', APP, '--database-url', server.url, ...LOGICAL]);
    assert.equal(doctor.code, 0, doctor.stdout + doctor.stderr);
    assert.match(doctor.stdout, new RegExp(`^ok +capture slot ${slot}: active \\(pid \\d+\\)`, 'm'));
    assert.equal(await serve.stop(), 0, serve.stderr());
  });

  it('doctor in notify mode warns about the slot left over; a role without REPLICATION fails', async () => {
    await admin.query("CREATE ROLE plain LOGIN PASSWORD 'plain'");
    const plainUrl = new URL(server.url);
    plainUrl.username = 'plain';
    plainUrl.password = 'plain';
    const [notify, plain] = await Promise.all([
      runCli(['doctor', APP, '--database-url', server.url]),
      runCli(['doctor', APP, '--database-url', plainUrl.toString(), ...LOGICAL]),
    ]);
    assert.equal(notify.code, 0, notify.stdout + notify.stderr);
    assert.match(notify.stdout, /\(capture notify\)$/m);
    assert.match(notify.stdout, /^ok +wal_level: logical \(capture 'notify' does not decode the WAL/m);
    assert.match(
      notify.stdout,
      new RegExp(
        `^warn +capture slot: ${slot} is left from capture 'logical' and retains .* of WAL, growing for ever: ` +
          `SELECT pg_drop_replication_slot\\('${slot}'\\)$`,
        'm',
      ),
    );
    assert.equal(plain.code, 1, plain.stdout + plain.stderr);
    assert.match(
      plain.stdout,
      /^warn +table cli_notes: in publication pgrt_capture; registration unknown: plain cannot read pgrt\.logical_tables$/m,
    );
    assert.match(
      plain.stdout,
      /^FAIL +replication: plain has neither REPLICATION nor superuser: ALTER ROLE "plain" REPLICATION/m,
    );
  });

  it('doctor fails an invalidated slot (its WAL removed) and says how to recover', async () => {
    await admin.query("ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'");
    await admin.query('SELECT pg_reload_conf()');
    for (let segment = 0; segment < 3; segment++) {
      await admin.query("INSERT INTO cli_notes (id, text) VALUES ($1, 'wal')", [`wal-${segment}`]);
      await admin.query('SELECT pg_switch_wal()');
    }
    await admin.query('CHECKPOINT');
    const status = await admin.query<{ wal_status: string }>(
      'SELECT wal_status FROM pg_replication_slots WHERE slot_name = $1',
      [slot],
    );
    assert.deepEqual(status.rows, [{ wal_status: 'lost' }], 'the slot was invalidated');
    const doctor = await runCli(['doctor', APP, '--database-url', server.url, ...LOGICAL]);
    assert.equal(doctor.code, 1, doctor.stdout + doctor.stderr);
    assert.match(
      doctor.stdout,
      new RegExp(
        `^FAIL +capture slot ${slot}: invalidated .*changes were lost; drop it \\(SELECT pg_drop_replication_slot\\('${slot}'\\)\\)`,
        'm',
      ),
    );
  });

  it('migrate without a database URL runs the embedded server with wal_level=logical', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'pgrt-cli-embedded-'));
    await chmod(dir, 0o755); // postgres runs as its own user when we are root
    try {
      const result = await runCli(
        ['migrate', APP, '--set', `embeddedDataDir=${path.join(dir, 'pgdata')}`, ...LOGICAL],
        { timeoutMs: 90_000 },
      );
      assert.equal(result.code, 0, result.stderr + result.stdout);
      assert.match(result.stdout, /^capture slot pgrt_\d+ \(pgoutput\) … done/m);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
