/**
 * The adapter seam, proven by a protocol that lives entirely in its own folder (this folder: JSON lines
 * over WebSocket): it reaches the server (sessions, methods, live data shared with DDP clients, shutdown), the
 * metrics (its message types, method timings, sessions by protocol), the configuration (its section, `PGRT_*`
 * variables, the JSON Schema, `protocols`) and the CLI (`pgrt serve` with an app module that exports it, and a
 * program built with it) with no edit anywhere else.
 */
import assert from 'node:assert/strict';
import { builtinAdapters } from '../../../adapters/builtin.js';
import { defineAdapter } from '../../../adapters/protocol-adapter.js';
import { createProgram } from '../../../cli/program.js';
import { configJsonSchema, configSchemaFor, settingsOf } from '../../../config/config-schema.js';
import { ConfigError, loadConfig } from '../../../config/load-config.js';
import { ConfigurationError } from '../../../core/errors.js';
import { createServer, ddp, type PgrtServer } from '../../../index.js';
import { startServe } from '../../cli/fixtures/cli-process.js';
import { RawDdpClient } from '../../fixtures/raw-ddp-client.js';
import { testDatabaseUrl } from '../../support/database.js';
import { app, migrate } from './fixtures/app.js';
import { JsonlClient } from './fixtures/client.js';
import { jsonl, jsonlAdapter } from './index.js';

const adapters = [...builtinAdapters, jsonlAdapter];

describe('a protocol adapter of its own (the toy JSON-lines adapter)', function () {
  this.timeout(30_000);

  describe('on a server beside DDP', () => {
    let server: PgrtServer;
    let client: JsonlClient;

    before(async () => {
      server = await createServer({
        app,
        migrate,
        protocols: [ddp(), jsonl({ path: '/lines' })],
        port: 0,
        host: '127.0.0.1',
        databaseUrl: testDatabaseUrl(),
        metrics: true,
      });
      await server.db.query('DELETE FROM toy_tasks');
      client = await JsonlClient.open(`ws://127.0.0.1:${server.port}/lines`);
    });

    after(async () => {
      await client?.close();
      await server?.close();
    });

    it('subscribes, calls a method, and gets its data before its result', async () => {
      client.send({ op: 'sub', id: 's1', name: 'toy_tasks' });
      await client.waitFor((m) => m.op === 'ready' && (m.subs as string[]).includes('s1'));
      const from = client.messages.length;
      client.send({ op: 'call', id: 'c1', method: 'toy.add', params: ['from jsonl'] });
      const result = await client.waitFor((m) => m.op === 'result' && m.id === 'c1', from);
      const added = client.messages.findIndex(
        (m, i) =>
          i >= from && m.op === 'added' && (m.fields as Record<string, unknown>).title === 'from jsonl',
      );
      assert.ok(added >= 0 && added < client.messages.indexOf(result), 'added before result');
      assert.equal(result.id, 'c1');
      assert.equal(typeof result.result, 'string');
    });

    it('shares live data with a DDP client, both ways', async () => {
      const ddpClient = await RawDdpClient.connect(`ws://127.0.0.1:${server.port}/websocket`);
      try {
        await ddpClient.subscribe('toy_tasks');
        const from = client.messages.length;
        await ddpClient.apply('toy.add', 'from ddp');
        await client.waitFor(
          (m) => m.op === 'added' && (m.fields as Record<string, unknown>).title === 'from ddp',
          from,
        );
        client.send({ op: 'call', id: 'c2', method: 'toy.add', params: ['to ddp'] });
        await ddpClient.waitFor(
          (m) => m.msg === 'added' && (m.fields as { title?: string }).title === 'to ddp',
        );
      } finally {
        await ddpClient.close();
      }
    });

    it('maps core errors and refuses bad lines without closing', async () => {
      const from = client.messages.length;
      client.send({ op: 'call', id: 'c3', method: 'nope' });
      const missing = await client.waitFor((m) => m.op === 'result' && m.id === 'c3', from);
      assert.deepEqual(missing.error, { code: 404, message: "Method 'nope' not found" });
      client.send({ op: 'sub', id: 's9', name: 'nope' });
      const stopped = await client.waitFor((m) => m.op === 'stopped' && m.sub === 's9', from);
      assert.deepEqual(stopped.error, { code: 404, message: "Subscription 'nope' not found" });
      client.sendRaw('{not json\n{"op":"fly","id":"x"}');
      await client.waitFor((m) => m.op === 'error' && m.reason === 'not JSON', from);
      await client.waitFor((m) => m.op === 'error' && m.reason === 'unknown or incomplete op "fly"', from);
      client.send({ op: 'call', id: 'c4', method: 'toy.add', params: ['still open'] });
      await client.waitFor((m) => m.op === 'result' && m.id === 'c4', from);
    });

    it('is counted by the metrics under its own name, with its message types and method timings', async () => {
      const text = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
      const value = (pattern: RegExp): number => Number(pattern.exec(text)?.[1] ?? Number.NaN);
      assert.ok(value(/^pgrt_messages_received_total\{protocol="jsonl",type="call"\} (\d+)$/m) >= 4, text);
      assert.ok(value(/^pgrt_messages_sent_total\{protocol="jsonl",type="added"\} (\d+)$/m) >= 3, text);
      assert.ok(value(/^pgrt_messages_received_total\{protocol="jsonl",type="invalid"\} (\d+)$/m) >= 1, text);
      assert.equal(
        value(
          /^pgrt_method_duration_seconds_count\{protocol="jsonl",method="toy.add",outcome="ok"\} (\d+)$/m,
        ),
        3,
      );
      assert.equal(value(/^pgrt_sessions\{protocol="jsonl"\} (\d+)$/m), 1);
      assert.equal(value(/^pgrt_connections\{protocol="jsonl",transport="websocket"\} (\d+)$/m), 1);
      assert.equal(value(/^pgrt_slow_consumer_closes_total\{protocol="jsonl"\} (\d+)$/m), 0);
    });

    it('is a protocol of the server: its handle, and its endpoints', () => {
      const handle = server.protocols.get('jsonl');
      assert.ok(handle);
      const base = { http: 'http://h:1', ws: 'ws://h:1', host: 'h', secure: false };
      assert.deepEqual(handle.endpoints?.(base), [{ name: 'JSON lines', url: 'ws://h:1/lines' }]);
    });
  });

  describe('in the configuration', () => {
    it('adds its section, variables and protocol name', () => {
      const { config, warnings } = loadConfig({
        file: false,
        adapters,
        env: { PGRT_PROTOCOLS: 'ddp,jsonl', PGRT_JSONL_PATH: '/lines' },
      });
      assert.deepEqual(warnings, []);
      assert.deepEqual(config.protocols, ['ddp', 'jsonl']);
      const section = (config as unknown as Record<string, { path: string; maxLineBytes: number }>).jsonl;
      assert.deepEqual(section, { path: '/lines', maxLineBytes: 64 * 1024 });
      const settings = settingsOf(configSchemaFor(adapters));
      assert.ok(settings.some((s) => s.env === 'PGRT_JSONL_MAX_LINE_BYTES' && s.default === 65_536));
      const schema = configJsonSchema(configSchemaFor(adapters)) as {
        properties: Record<string, { properties?: Record<string, unknown> }>;
      };
      assert.ok(schema.properties.jsonl?.properties?.path);
    });

    it('is unknown without it: its name is refused, its variables are warned about', () => {
      const error = (() => {
        try {
          loadConfig({ file: false, env: { PGRT_PROTOCOLS: 'jsonl', PGRT_JSONL_PATH: '/x' } });
        } catch (caught) {
          return caught;
        }
        return undefined;
      })();
      assert.ok(error instanceof ConfigError);
      assert.deepEqual(
        error.issues.map((i) => i.key),
        ['protocols'],
      );
      const { warnings } = loadConfig({ file: false, env: { PGRT_JSONL_PATH: '/x' } });
      assert.deepEqual(warnings, ['unknown environment variable PGRT_JSONL_PATH ignored']);
    });

    it('refuses an adapter whose name or section is taken', () => {
      const clash = (name: string, section: string) =>
        defineAdapter({
          name,
          summary: 'clash',
          config: { [section]: jsonlAdapter.config.jsonl },
          fromConfig: () => jsonl(),
        });
      assert.throws(() => configSchemaFor([...adapters, clash('other', 'port')]), ConfigurationError);
      assert.throws(() => configSchemaFor([...adapters, clash('other', 'wamp')]), ConfigurationError);
      assert.throws(() => configSchemaFor([...adapters, clash('jsonl', 'other')]), ConfigurationError);
    });
  });

  describe('on the command line', () => {
    it('adds its flags to a program built with it', async () => {
      const written: string[] = [];
      const io = { out: (text: string) => written.push(text), err: (text: string) => written.push(text) };
      const program = createProgram(io, { adapters: [jsonlAdapter] });
      program.exitOverride();
      for (const command of program.commands) command.exitOverride();
      await assert.rejects(program.parseAsync(['node', 'pgrt', 'serve', '--help']));
      const help = written.join('');
      assert.match(help, /--jsonl-path <path>/);
      assert.match(help, /comma-separated: ddp, wamp, supabase, jsonl/);
    });

    it('is served by `pgrt serve` from an app module that exports it', async () => {
      const serve = await startServe([
        'test/adapters/jsonl/fixtures/app.ts',
        '--port',
        '0',
        '--host',
        '127.0.0.1',
        '--database-url',
        testDatabaseUrl(),
        '--protocols',
        'ddp,jsonl',
        '--set',
        'jsonl.path=/cli-lines',
      ]);
      try {
        const urls = serve.lines.filter((line) => line.endpoint !== undefined).map((line) => line.url);
        assert.ok(urls.includes(`ws://127.0.0.1:${serve.port}/cli-lines`), urls.join('\n'));
        const client = await JsonlClient.open(`ws://127.0.0.1:${serve.port}/cli-lines`);
        try {
          client.send({ op: 'call', id: 'c1', method: 'toy.add', params: ['over the CLI'] });
          const result = await client.waitFor((m) => m.op === 'result' && m.id === 'c1');
          assert.equal(typeof result.result, 'string');
        } finally {
          await client.close();
        }
      } finally {
        assert.equal(await serve.stop(), 0, serve.stderr());
      }
    });
  });
});
