/**
 * Configuration layering and validation (no sockets): defaults < pgrt.config.json < Meteor's variables < PGRT_*
 * < flags; unknown keys warn; invalid values name the key, where it came from and the allowed values; secrets are
 * masked; the shipped JSON Schema is the one the zod schema produces.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { wampOptionsOf } from '../../adapters/wamp/config.js';
import { loadConfigFromFlags } from '../../cli/config-options.js';
import { serverOptionsOf } from '../../cli/server-options.js';
import { configJsonSchema } from '../../config/config-schema.js';
import { ConfigError, loadConfig } from '../../config/load-config.js';
import { maskSecrets } from '../../config/mask-secrets.js';
import { App } from '../../core/app.js';
import { silentLogger } from '../../core/logger.js';
import { ROOT } from './fixtures/cli-process.js';

describe('configuration', () => {
  let dir: string;
  let file: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pgrt-config-'));
    file = join(dir, 'pgrt.config.json');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function write(content: unknown): void {
    writeFileSync(file, JSON.stringify(content));
  }

  function issuesOf(run: () => unknown): ConfigError['issues'] {
    try {
      run();
    } catch (error) {
      assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
      assert.equal(error.code, 'PGRT_CONFIG_INVALID');
      return error.issues;
    }
    assert.fail('expected a ConfigError');
  }

  it('uses the defaults when nothing is set', () => {
    const { config, sources, file: read } = loadConfig({ env: {}, cwd: dir });
    assert.equal(read, undefined);
    assert.equal(config.port, 3000);
    assert.equal(config.host, '0.0.0.0');
    assert.deepEqual(config.protocols, ['ddp']);
    assert.equal(config.ddp.heartbeatInterval, 15_000);
    assert.equal(config.metrics, false);
    assert.equal(sources.size, 0);
  });

  it('layers file < Meteor env < PGRT_* env < flags, key by key', () => {
    write({ port: 4000, host: '127.0.0.1', poolSize: 4, ddp: { heartbeatInterval: 1000 }, metrics: true });
    const {
      config,
      sources,
      file: read,
    } = loadConfig({
      cwd: dir,
      env: { PORT: '5000', PGRT_PORT: '6000', HTTP_FORWARDED_COUNT: '2', PGRT_POOL_SIZE: '7' },
      flags: { port: '7000', 'ddp.heartbeatTimeout': '2000' },
    });
    assert.equal(read, file, 'pgrt.config.json in the working directory is found');
    assert.equal(config.port, 7000);
    assert.equal(sources.get('port'), 'flag --port');
    assert.equal(config.host, '127.0.0.1');
    assert.equal(sources.get('host'), file);
    assert.equal(config.poolSize, 7);
    assert.equal(config.forwardedCount, 2);
    assert.equal(sources.get('forwardedCount'), 'env HTTP_FORWARDED_COUNT');
    assert.equal(config.ddp.heartbeatInterval, 1000, 'file value kept beside a flag on a sibling key');
    assert.equal(config.ddp.heartbeatTimeout, 2000);
    assert.equal(config.ddp.maxMessageBytes, 1024 * 1024, 'unset sibling keeps its default');
    assert.equal(config.metrics, true);

    const meteorOnly = loadConfig({ cwd: dir, env: { PORT: '5000', DATABASE_URL: 'postgres://h/db' } });
    assert.equal(meteorOnly.config.port, 5000, 'PORT beats the file');
    assert.equal(meteorOnly.config.databaseUrl, 'postgres://h/db');
  });

  it('reads booleans and lists from the environment, and ROOT_URL', () => {
    const { config } = loadConfig({
      file: false,
      env: { PGRT_METRICS: 'yes', PGRT_PROTOCOLS: 'ddp, wamp', ROOT_URL: 'https://example.com/app' },
    });
    assert.equal(config.metrics, true);
    assert.deepEqual(config.protocols, ['ddp', 'wamp']);
    assert.equal(config.rootUrl, 'https://example.com/app');
  });

  it('hands the outbox, bus reconnect, limits and coalescing keys to createServer', () => {
    const { config } = loadConfig({
      file: false,
      env: {
        PGRT_OUTBOX_RETENTION_MS: '60000',
        PGRT_OUTBOX_PUMP: 'no',
        PGRT_BUS_RECONNECT_MAX_MS: '2000',
        PGRT_LIMITS_ALLOWED_ORIGINS: 'https://a.example, https://b.example',
        PGRT_LIMITS_MAX_BUFFERED_BYTES: '1048576',
        PGRT_DDP_COALESCE_MS: '2',
        PGRT_LIMITS_MAX_SUBSCRIPTIONS_PER_ADDRESS: '2000',
      },
    });
    const options = serverOptionsOf(
      config,
      { app: new App(), migrate: undefined, path: 'app.js' },
      silentLogger,
    );
    assert.equal(options.outboxRetentionMs, 60_000);
    assert.equal(options.outboxPump, false);
    assert.deepEqual(options.busReconnect, { initialMs: 100, maxMs: 2000 });
    assert.deepEqual(options.limits, {
      maxConnectionsPerAddress: 0,
      maxBufferedBytes: 1024 * 1024,
      maxNestingDepth: 64,
      maxSubscriptionsPerConnection: 500,
      maxSubscriptionsPerAddress: 2000,
      allowedOrigins: ['https://a.example', 'https://b.example'],
    });
    const defaults = serverOptionsOf(
      loadConfig({ file: false, env: {} }).config,
      { app: new App(), migrate: undefined, path: 'app.js' },
      silentLogger,
    );
    assert.equal(defaults.limits?.allowedOrigins, undefined, 'absent: every origin');
    assert.equal(defaults.outboxRetentionMs, 600_000);
    assert.equal(config.ddp.coalesceMs, 2);
    assert.equal(defaults.drainDelayMs, 0);
    assert.equal(defaults.listenDatabaseUrl, undefined, 'absent: the dedicated connections use databaseUrl');
  });

  it('hands the listen backlog (env, flag) to createServer; its default asks for all the kernel allows', () => {
    const module = { app: new App(), migrate: undefined, path: 'app.js' };
    const fromEnv = loadConfig({ file: false, env: { PGRT_LISTEN_BACKLOG: '8192' } }).config;
    assert.equal(serverOptionsOf(fromEnv, module, silentLogger).listenBacklog, 8192);
    const flagged = loadConfigFromFlags(
      { set: ['listenBacklog=1024'] },
      {},
      { PGRT_LISTEN_BACKLOG: '8192' },
    ).config;
    assert.equal(flagged.listenBacklog, 1024, 'the flag wins over the env');
    const defaults = loadConfig({ file: false, env: {} }).config;
    assert.equal(serverOptionsOf(defaults, module, silentLogger).listenBacklog, 65_535);
    for (const bad of ['0', '65536', '-1', '1.5', 'deep'])
      assert.throws(
        () => loadConfig({ file: false, env: { PGRT_LISTEN_BACKLOG: bad } }),
        /listenBacklog \(from env PGRT_LISTEN_BACKLOG\)/,
        bad,
      );
  });

  it('hands the listen URL (env, flag) and the drain delay to createServer', () => {
    const module = { app: new App(), migrate: undefined, path: 'app.js' };
    const { config } = loadConfig({
      file: false,
      env: {
        DATABASE_URL: 'postgres://app@pgbouncer:6432/app',
        PGRT_LISTEN_DATABASE_URL: 'postgres://app@db:5432/app',
        PGRT_DRAIN_DELAY_MS: '5000',
      },
    });
    const options = serverOptionsOf(config, module, silentLogger);
    assert.equal(options.databaseUrl, 'postgres://app@pgbouncer:6432/app');
    assert.equal(options.listenDatabaseUrl, 'postgres://app@db:5432/app');
    assert.equal(options.drainDelayMs, 5000);
    const flagged = loadConfigFromFlags(
      { listenDatabaseUrl: 'postgres://app@other:5432/app', drainDelayMs: '250' },
      {},
      { PGRT_LISTEN_DATABASE_URL: 'postgres://app@db:5432/app' },
    ).config;
    assert.equal(flagged.listenDatabaseUrl, 'postgres://app@other:5432/app', 'the flag wins over the env');
    assert.equal(flagged.drainDelayMs, 250);
    assert.throws(
      () => loadConfig({ file: false, env: { PGRT_LISTEN_DATABASE_URL: 'mysql://x' } }),
      /listenDatabaseUrl \(from env PGRT_LISTEN_DATABASE_URL\)/,
    );
  });

  it('grants the WAMP realm nothing by default; wamp.*Roles, maxTestaments and maxRetainedBytes (file, env) reach its options', () => {
    const realmsOf = (config: ReturnType<typeof loadConfig>['config']) =>
      wampOptionsOf(config, { host: config.host, rootUrl: config.rootUrl, forwardedCount: 0 }).realms;
    const defaults = { realms: realmsOf(loadConfig({ file: false, env: {} }).config) };
    assert.deepEqual(defaults.realms, [
      {
        name: 'realm1',
        metaApiRoles: [],
        patternRegistrationRoles: [],
        disclosureRoles: [],
        maxTestaments: 16,
        maxRetainedBytes: 16 * 1024 * 1024,
      },
    ]);
    write({ wamp: { realm: 'app', metaApiRoles: ['admin'] } });
    const { config, sources } = loadConfig({
      cwd: dir,
      env: {
        PGRT_WAMP_PATTERN_REGISTRATION_ROLES: 'backend, worker',
        PGRT_WAMP_DISCLOSURE_ROLES: 'backend',
        PGRT_WAMP_MAX_TESTAMENTS: '2',
        PGRT_WAMP_MAX_RETAINED_BYTES: '65536',
      },
    });
    assert.equal(sources.get('wamp.patternRegistrationRoles'), 'env PGRT_WAMP_PATTERN_REGISTRATION_ROLES');
    assert.deepEqual(realmsOf(config), [
      {
        name: 'app',
        metaApiRoles: ['admin'],
        patternRegistrationRoles: ['backend', 'worker'],
        disclosureRoles: ['backend'],
        maxTestaments: 2,
        maxRetainedBytes: 65_536,
      },
    ]);
    write({ wamp: { metaApiRoles: 'admin' } });
    assert.deepEqual(
      issuesOf(() => loadConfig({ cwd: dir, env: {} })).map((i) => i.key),
      ['wamp.metaApiRoles'],
    );
  });

  it('warns about unknown keys and PGRT_* variables instead of failing', () => {
    write({ port: 1, prot: 2, ddp: { heartbeat: 3 } });
    const { warnings, config } = loadConfig({ cwd: dir, env: { PGRT_PROT: 'x', PGRT_CONFIG: file } });
    assert.equal(config.port, 1);
    assert.ok(
      warnings.some((w) => w.includes('unknown key "prot"')),
      warnings.join('\n'),
    );
    assert.ok(
      warnings.some((w) => w.includes('unknown key "ddp.heartbeat"')),
      warnings.join('\n'),
    );
    assert.ok(
      warnings.some((w) => w.includes('PGRT_PROT')),
      warnings.join('\n'),
    );
    assert.equal(warnings.length, 3);
  });

  it('names the key, its source and the allowed values of every invalid value', () => {
    write({ logLevel: 'loud', port: 70_000 });
    const issues = issuesOf(() =>
      loadConfig({
        cwd: dir,
        env: { PGRT_METRICS: 'maybe', PGRT_PROTOCOLS: 'ddp,mqtt' },
        flags: { 'ddp.pathPrefix': 'app/' },
      }),
    );
    const byKey = new Map(issues.map((i) => [i.key, i]));
    assert.deepEqual([...byKey.keys()].sort(), [
      'ddp.pathPrefix',
      'logLevel',
      'metrics',
      'port',
      'protocols',
    ]);
    assert.equal(byKey.get('logLevel')?.source, file);
    assert.match(byKey.get('logLevel')!.message, /"info"/);
    assert.match(byKey.get('logLevel')!.message, /"silent"/);
    assert.match(byKey.get('port')!.message, /65535/);
    assert.equal(byKey.get('metrics')?.source, 'env PGRT_METRICS');
    assert.match(byKey.get('metrics')!.message, /boolean.*got "maybe"/);
    assert.match(byKey.get('protocols')!.message, /"ddp"\|"wamp"/);
    assert.equal(byKey.get('ddp.pathPrefix')?.source, 'flag --ddp-path-prefix');
  });

  it('rejects an unknown flag key and an unreadable file', () => {
    assert.equal(issuesOf(() => loadConfig({ file: false, env: {}, flags: { nope: '1' } }))[0]?.key, 'nope');
    writeFileSync(file, '{ not json');
    const [issue] = issuesOf(() => loadConfig({ cwd: dir, env: {} }));
    assert.equal(issue?.key, '(file)');
    assert.match(issue!.message, /not JSON/);
  });

  it('masks the database password and the TLS key', () => {
    const { config } = loadConfig({
      file: false,
      env: {
        DATABASE_URL: 'postgres://app:s3cret@db.internal:5432/app',
        PGRT_LISTEN_DATABASE_URL: 'postgres://app:s3cret2@db-direct.internal:5432/app',
        PGRT_TLS_CERT: '/etc/tls/cert.pem',
        PGRT_TLS_KEY: '/etc/tls/key.pem',
      },
    });
    const masked = JSON.stringify(maskSecrets(config));
    assert.ok(!masked.includes('s3cret'));
    assert.ok(masked.includes('postgres://app:***@db-direct.internal:5432/app'));
    assert.ok(!masked.includes('key.pem'));
    assert.ok(masked.includes('postgres://app:***@db.internal:5432/app'));
    assert.ok(masked.includes('/etc/tls/cert.pem'));
    assert.equal(
      config.databaseUrl,
      'postgres://app:s3cret@db.internal:5432/app',
      'the original is untouched',
    );
  });

  it('ships the JSON Schema the zod schema produces (regenerate: pgrt config-schema)', () => {
    const shipped: unknown = JSON.parse(readFileSync(join(ROOT, 'config/pgrt.config.schema.json'), 'utf8'));
    assert.deepEqual(shipped, configJsonSchema());
  });
});
