/**
 * The `pgrt` command line as users run it: child processes (`node --import tsx cli/main.ts …`) against this run's
 * test database. `--help` (the program's in a child, each command's in process), configuration errors and
 * `--print-config` masking, `migrate`, `doctor` (and both refusing capture `logical` on a server without
 * `wal_level=logical`), and `serve` answering a DDP client with metrics on, then stopping on SIGTERM. Capture
 * `logical` on a capable server: logical.test.ts.
 */
import assert from 'node:assert/strict';
import pg from 'pg';
import type { Output } from '../../cli/output.js';
import { runCli as runProgram } from '../../cli/program.js';
import { RawSocketPeer } from '../../conformance/wamp/rawsocket-client.js';
import { RawDdpClient } from '../fixtures/raw-ddp-client.js';
import { waitUntil } from '../fixtures/wait.js';
import { testDatabaseUrl } from '../support/database.js';
import { childEnv, runCli, type ServeProcess, startServe } from './fixtures/cli-process.js';

const APP = 'test/cli/fixtures/notes-app.ts';

describe('pgrt CLI (child processes)', function () {
  this.timeout(60_000);

  it('prints --help for the program and every command', async function () {
    // One child process proves the executable starts and prints the program's help; each command's help comes
    // from the same program (createProgram) run in process, so the test does not start seven CLI children at once.
    this.timeout(120_000);
    const top = await runCli(['--help'], { timeoutMs: 90_000 });
    assert.equal(top.code, 0, top.stderr);
    for (const name of ['serve', 'migrate', 'doctor', 'conformance', 'bench', 'config-schema'])
      assert.match(top.stdout, new RegExp(`\\n  ${name} `), `${name} listed`);
    const helps = new Map<string, { code: number; stdout: string; stderr: string }>();
    const commands = ['serve', 'migrate', 'doctor', 'conformance', 'bench', 'config-schema', 'config-env'];
    for (const name of commands) {
      let stdout = '';
      let stderr = '';
      const io: Output = {
        out: (text) => {
          stdout += text;
        },
        err: (text) => {
          stderr += text;
        },
      };
      const code = await runProgram(['node', 'pgrt', name, '--help'], io);
      helps.set(name, { code, stdout, stderr });
    }
    for (const [name, result] of helps) {
      assert.equal(result.code, 0, `${name}: ${result.stderr}`);
      assert.match(result.stdout, new RegExp(`^Usage: pgrt ${name}`), name);
    }
    const serve = helps.get('serve')!.stdout;
    for (const flag of ['--print-config', '--port', '--database-url', '--metrics', '--set'])
      assert.ok(serve.includes(flag));
  });

  it('fails with exit code 2 and names the key on bad configuration or usage', async () => {
    const bad = await runCli(['serve', '--print-config', '--log-level', 'loud'], {
      env: childEnv({ PGRT_PORT: 'eighty' }),
    });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /port \(from env PGRT_PORT\): expected an integer, got "eighty"/);
    assert.match(bad.stderr, /logLevel \(from flag --log-level\).*"debug"/);
    const unknown = await runCli(['frobnicate']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /unknown command 'frobnicate'/);
    const noApp = await runCli(['serve', '--database-url', testDatabaseUrl()]);
    assert.equal(noApp.code, 2);
    assert.match(noApp.stderr, /serve needs an app module/);
  });

  it('--print-config shows the effective configuration with secrets masked', async () => {
    const result = await runCli(
      ['serve', APP, '--print-config', '--port', '4321', '--set', 'ddp.heartbeatInterval=500'],
      {
        env: childEnv({
          DATABASE_URL: 'postgres://app:hunter2@db.example:5432/app',
          PGRT_TLS_CERT: 'cert.pem',
          PGRT_TLS_KEY: 'private-key.pem',
          PGRT_TYPO: '1',
        }),
      },
    );
    assert.equal(result.code, 0, result.stderr);
    const config = JSON.parse(result.stdout) as Record<string, unknown>;
    assert.equal(config.port, 4321);
    assert.equal(config.app, APP);
    assert.equal(config.databaseUrl, 'postgres://app:***@db.example:5432/app');
    assert.deepEqual(config.tls, { cert: 'cert.pem', key: '***' });
    assert.equal((config.ddp as Record<string, unknown>).heartbeatInterval, 500);
    assert.ok(!result.stdout.includes('hunter2') && !result.stdout.includes('private-key'));
    assert.match(result.stderr, /unknown environment variable PGRT_TYPO/);
  });

  describe('against the test database', () => {
    let admin: pg.Client;

    before(async () => {
      admin = new pg.Client(testDatabaseUrl());
      await admin.connect();
      await admin.query('DROP TABLE IF EXISTS cli_notes');
    });
    after(async () => {
      await admin.query('DROP TABLE IF EXISTS cli_notes').catch(() => {});
      await admin.end();
    });

    it('migrate creates the app tables, the pgrt schema and the capture triggers, idempotently', async () => {
      for (let run = 0; run < 2; run++) {
        const result = await runCli(['migrate', APP, '--database-url', testDatabaseUrl()]);
        assert.equal(result.code, 0, result.stderr + result.stdout);
        assert.match(result.stdout, /app migrate .* done/);
        assert.match(result.stdout, /^migrations \(pgrt \d+\) under the start-up lock …$/m);
        assert.match(result.stdout, /^migrations: \d+ applied, .*done/m);
        assert.match(result.stdout, /\[1\/1\] capture triggers on cli_notes … done/);
        assert.match(result.stdout, /migrate: ok/);
      }
      const triggers = await admin.query<{ tgname: string }>(
        "SELECT tgname FROM pg_trigger WHERE tgrelid = 'cli_notes'::regclass AND NOT tgisinternal ORDER BY 1",
      );
      assert.deepEqual(
        triggers.rows.map((r) => r.tgname),
        ['pgrt_capture', 'pgrt_capture_truncate'],
      );
    });

    it('doctor checks the database, the triggers and a LISTEN/NOTIFY round trip', async () => {
      const result = await runCli(['doctor', APP, '--database-url', testDatabaseUrl()]);
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.match(result.stdout, /^ok +connect: \d+ ms$/m);
      assert.match(result.stdout, /^ok +server version: PostgreSQL \d+/m);
      assert.match(result.stdout, /^ok +permissions: /m);
      assert.match(
        result.stdout,
        /^ok +table cli_notes: capture triggers pgrt_capture, pgrt_capture_truncate$/m,
      );
      assert.match(result.stdout, /^ok +wal_level: \w+ \(capture 'notify' does not decode the WAL/m);
      assert.match(result.stdout, /^ok +capture slot: none/m);
      assert.match(result.stdout, /^ok +LISTEN\/NOTIFY: round trip [\d.]+ ms/m);
      assert.match(result.stdout, /checks: 0 failed/);

      const unreachable = await runCli(['doctor', '--database-url', 'postgres://nobody@127.0.0.1:1/none']);
      assert.equal(unreachable.code, 1);
      assert.match(unreachable.stdout, /^FAIL +connect: /m);
    });

    it('capture logical without wal_level=logical: migrate changes nothing, doctor fails with the fix', async function () {
      const level = await admin.query<{ wal_level: string }>('SHOW wal_level');
      if (level.rows[0]?.wal_level === 'logical') this.skip(); // test/cli/logical.test.ts covers that server
      const logical = ['--database-url', testDatabaseUrl(), '--set', 'capture=logical'];
      const [migrate, doctor] = await Promise.all([
        runCli(['migrate', APP, ...logical]),
        runCli(['doctor', APP, ...logical]),
      ]);
      assert.equal(migrate.code, 1, migrate.stdout + migrate.stderr);
      assert.match(
        migrate.stderr,
        /capture 'logical' needs wal_level=logical \(it is \w+\): ALTER SYSTEM SET wal_level = logical, then restart PostgreSQL.*Nothing was changed/,
      );
      assert.doesNotMatch(migrate.stdout, /pgrt schema|capture/);
      const triggers = await admin.query(
        "SELECT 1 FROM pg_trigger WHERE tgrelid = 'cli_notes'::regclass AND tgname LIKE 'pgrt_capture%'",
      );
      assert.equal(triggers.rowCount, 2, "the notify triggers are still there (migrate's earlier run)");
      assert.equal(doctor.code, 1, doctor.stdout + doctor.stderr);
      assert.match(
        doctor.stdout,
        /^FAIL +wal_level: \w+: capture 'logical' needs wal_level=logical: ALTER SYSTEM SET wal_level = logical, then restart PostgreSQL/m,
      );
    });

    describe('serve', () => {
      let server: ServeProcess | undefined;
      let client: RawDdpClient | undefined;

      after(async () => {
        await client?.close();
        if (server && server.child.exitCode === null) await server.stop();
      });

      it('starts, logs where each protocol listens, and answers a DDP client', async () => {
        server = await startServe([
          APP,
          '--port',
          '0',
          '--host',
          '127.0.0.1',
          '--metrics',
          '--database-url',
          testDatabaseUrl(),
          '--protocols',
          'ddp,wamp',
          '--set',
          'wamp.rawSocketPort=0',
        ]);
        const urls = server.lines
          .filter((l) => typeof l.endpoint === 'string')
          .map((l) => `${l.endpoint} ${l.url}`);
        assert.ok(urls.includes(`DDP ws://127.0.0.1:${server.port}/websocket`), urls.join('\n'));
        assert.ok(urls.includes(`DDP over SockJS http://127.0.0.1:${server.port}/sockjs`), urls.join('\n'));
        assert.ok(urls.includes(`metrics http://127.0.0.1:${server.port}/metrics`), urls.join('\n'));
        const rawSocket = urls
          .map((u) => /^WAMP RawSocket \(realm realm1\) rs:\/\/127\.0\.0\.1:(\d+)$/.exec(u))
          .find(Boolean);
        assert.ok(rawSocket, urls.join('\n'));
        const peer = await RawSocketPeer.connect({ host: '127.0.0.1', port: Number(rawSocket[1]) });
        try {
          assert.equal((await peer.handshake(1))[0], 0x7f, 'a RawSocket handshake reply');
        } finally {
          peer.close();
        }
        client = await RawDdpClient.connect(`ws://127.0.0.1:${server.port}/websocket`);
        await client.subscribe('cli_notes');
        const id = await client.apply('notes.add', 'from the CLI test');
        assert.equal(typeof id, 'string');
        await waitUntil(() => client?.view('cli_notes').get(String(id))?.text === 'from the CLI test', {
          what: () => 'the added note',
        });
        const ready = await fetch(`http://127.0.0.1:${server.port}/readyz`);
        assert.equal(ready.status, 200);
      });

      it('serves /metrics reflecting the traffic', async () => {
        assert.ok(server);
        const response = await fetch(`http://127.0.0.1:${server.port}/metrics`);
        assert.equal(response.status, 200);
        assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
        const text = await response.text();
        const value = (series: string): number => {
          const line = text.split('\n').find((l) => l.startsWith(`${series} `));
          assert.ok(line, `${series} missing from:\n${text.slice(0, 3000)}`);
          return Number(line.slice(series.length + 1));
        };
        assert.equal(value('pgrt_connections{protocol="ddp",transport="websocket"}'), 1);
        assert.equal(value('pgrt_sessions{protocol="ddp"}'), 1);
        assert.equal(value('pgrt_subscriptions'), 1);
        assert.ok(value('pgrt_observers') >= 1);
        assert.equal(value('pgrt_messages_received_total{protocol="ddp",type="connect"}'), 1);
        assert.equal(value('pgrt_messages_received_total{protocol="ddp",type="sub"}'), 1);
        assert.equal(value('pgrt_messages_received_total{protocol="ddp",type="method"}'), 1);
        assert.equal(value('pgrt_messages_sent_total{protocol="ddp",type="result"}'), 1);
        assert.equal(value('pgrt_messages_sent_total{protocol="ddp",type="updated"}'), 1);
        assert.ok(value('pgrt_messages_sent_total{protocol="ddp",type="added"}') >= 1);
        assert.equal(
          value('pgrt_method_duration_seconds_count{protocol="ddp",method="notes.add",outcome="ok"}'),
          1,
        );
        assert.ok(value('pgrt_bus_events_total{kind="change"}') >= 1);
        assert.equal(value('pgrt_bus_connected'), 1);
        assert.ok(value('pgrt_bus_roundtrip_seconds') > 0);
        assert.equal(value('pgrt_slow_consumer_closes_total{protocol="ddp"}'), 0);
        assert.ok(value('process_resident_memory_bytes') > 0, 'default process metrics');
      });

      it('stops gracefully on SIGTERM: exit code 0, in time, clients told to go away', async () => {
        assert.ok(server && client);
        const started = performance.now();
        const code = await server.stop();
        assert.equal(code, 0, server.stderr());
        assert.ok(performance.now() - started < 10_000);
        const closed = await client.closed;
        assert.equal(closed.code, 1001);
        assert.ok(server.lines.some((l) => l.msg === 'shutting down' && l.signal === 'SIGTERM'));
        assert.ok(server.lines.some((l) => l.msg === 'stopped'));
      });
    });
  });
});
