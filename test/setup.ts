/**
 * mocha global setup: creates this run's PostgreSQL test database (see support/database.ts) and exports its URL
 * as PGRT_TEST_DATABASE_URL for every suite and for child server processes.
 */
import 'reflect-metadata';
import { createTestDatabase, type TestDatabase } from './support/database.js';

let db: TestDatabase | undefined;

export async function mochaGlobalSetup(): Promise<void> {
  if (process.env.PGRT_TEST_DATABASE_URL) return;
  db = await createTestDatabase();
  process.env.PGRT_TEST_DATABASE_URL = db.url;
}

export async function mochaGlobalTeardown(): Promise<void> {
  await db?.drop();
}
