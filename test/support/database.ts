/**
 * Test database resolution, shared by every suite: `DATABASE_URL` if set, else a PostgreSQL reachable at
 * 127.0.0.1:5432 (user postgres, trust auth), else an embedded PostgreSQL under `.pgrt/test-pgdata`.
 * A fresh database named `pgrt_test_<pid>` is created for the run and dropped at the end, so runs never see
 * each other's tables.
 */
import pg from 'pg';
import { type EmbeddedPostgresHandle, startEmbeddedPostgres } from '../../core/database/embedded-postgres.js';

const LOCAL_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

async function reachable(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** A created test database and how to drop it. */
export interface TestDatabase {
  readonly url: string;
  readonly source: 'DATABASE_URL' | 'local' | 'embedded';
  drop(): Promise<void>;
}

/** Creates a fresh database for this test run on the first PostgreSQL that answers. */
export async function createTestDatabase(name = `pgrt_test_${process.pid}`): Promise<TestDatabase> {
  let serverUrl: string;
  let source: TestDatabase['source'];
  let embedded: EmbeddedPostgresHandle | undefined;
  if (process.env.DATABASE_URL) {
    serverUrl = process.env.DATABASE_URL;
    source = 'DATABASE_URL';
  } else if (await reachable(LOCAL_URL)) {
    serverUrl = LOCAL_URL;
    source = 'local';
  } else {
    embedded = await startEmbeddedPostgres({ dataDir: '.pgrt/test-pgdata', database: 'postgres' });
    serverUrl = embedded.url;
    source = 'embedded';
  }
  const admin = new pg.Client(serverUrl);
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  await admin.end();
  return {
    url: withDatabase(serverUrl, name),
    source,
    async drop() {
      const client = new pg.Client(serverUrl);
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
      await client.end();
      await embedded?.stop();
    },
  };
}

/** The URL of this run's test database (set by test/setup.ts before any suite runs). */
export function testDatabaseUrl(): string {
  const url = process.env.PGRT_TEST_DATABASE_URL;
  if (!url) throw new Error('PGRT_TEST_DATABASE_URL is not set: run tests through mocha with test/setup.ts');
  return url;
}

/** A throwaway database on the test server (for tests that need an EMPTY database), and how to drop it. */
export interface ScratchDatabase {
  readonly url: string;
  drop(): Promise<void>;
}

/** Creates an empty database `pgrt_<suffix>_<pid>` on the server of the run's test database. */
export async function createScratchDatabase(suffix: string): Promise<ScratchDatabase> {
  const name = `pgrt_${suffix}_${process.pid}`;
  const admin = new pg.Client(withDatabase(testDatabaseUrl(), 'postgres'));
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  } finally {
    await admin.end();
  }
  return {
    url: withDatabase(testDatabaseUrl(), name),
    async drop() {
      const client = new pg.Client(withDatabase(testDatabaseUrl(), 'postgres'));
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
