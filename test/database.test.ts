import assert from 'node:assert/strict';
import pg from 'pg';
import { testDatabaseUrl } from './support/database.js';

describe('test database', () => {
  it('is a fresh per-run database on a real PostgreSQL', async () => {
    const client = new pg.Client(testDatabaseUrl());
    await client.connect();
    const result = await client.query<{ db: string }>('SELECT current_database() AS db');
    await client.end();
    assert.match(result.rows[0]?.db ?? '', /^pgrt_test_\d+$/);
  });
});
