import assert from 'node:assert/strict';
import pg from 'pg';
import { testDatabaseUrl } from '../test/support/database.js';

describe('test database', () => {
  it('is a fresh database on a real PostgreSQL', async () => {
    const c = new pg.Client(testDatabaseUrl());
    await c.connect();
    const r = await c.query('SELECT current_database() AS db');
    await c.end();
    assert.match(r.rows[0].db, /^pgrt_test_\d+$/);
  });
});
