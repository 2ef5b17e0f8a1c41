/**
 * Table introspection: name resolution, key detection and the configuration errors.
 * (Column kinds of every type are covered in row-codec.test.ts.)
 */
import assert from 'node:assert/strict';
import { testDatabaseUrl } from '../../test/support/database.js';
import { ConfigurationError } from '../errors.js';
import { PgDatabase } from './database.js';
import { introspectTable } from './introspect.js';

describe('introspectTable', () => {
  let db: PgDatabase;
  const p = `intro_${process.pid}`;

  before(async () => {
    db = new PgDatabase(testDatabaseUrl(), { poolSize: 1 });
    await db.query(`CREATE SCHEMA ${p}_s`);
    await db.query(`CREATE TABLE ${p}_s."Mixed Case" (a text, "Key" uuid, PRIMARY KEY ("Key") INCLUDE (a))`);
    await db.query(`CREATE TABLE ${p}_plain (id serial PRIMARY KEY, dropped int, title varchar)`);
    await db.query(`ALTER TABLE ${p}_plain DROP COLUMN dropped`);
    await db.query(`CREATE TABLE ${p}_nokey (a int)`);
    await db.query(`CREATE TABLE ${p}_composite (a int, b int, PRIMARY KEY (a, b))`);
    await db.query(`CREATE VIEW ${p}_view AS SELECT 1 AS id`);
    await db.query(`CREATE TABLE ${p}_parted (id int PRIMARY KEY) PARTITION BY RANGE (id)`);
  });
  after(async () => {
    await db.close();
  });

  it('reads columns in order (dropped ones skipped) and the key', async () => {
    const table = await introspectTable(db, `${p}_plain`);
    assert.equal(table.schema, 'public');
    assert.equal(table.qualifiedName, `public.${p}_plain`);
    assert.deepEqual(
      [...table.columns.values()],
      [
        { name: 'id', kind: 'int', pgType: 'integer' },
        { name: 'title', kind: 'text', pgType: 'character varying' },
      ],
    );
    assert.equal(table.key, table.columns.get('id'));
  });

  it('takes schema-qualified names literally; INCLUDE columns are not key columns', async () => {
    const table = await introspectTable(db, `${p}_s.Mixed Case`);
    assert.equal(table.qualifiedName, `${p}_s.Mixed Case`);
    assert.equal(table.key.name, 'Key');
    assert.equal(table.key.kind, 'uuid');
  });

  it('rejects missing tables, views, and tables without a single-column primary key', async () => {
    await assert.rejects(
      introspectTable(db, `${p}_missing`),
      (e) => e instanceof ConfigurationError && /does not exist/.test(e.message),
    );
    await assert.rejects(introspectTable(db, `nope_${p}.${p}_plain`), ConfigurationError);
    await assert.rejects(introspectTable(db, `${p}_view`), /is not a table/);
    await assert.rejects(introspectTable(db, `${p}_parted`), /partitioned table/);
    await assert.rejects(
      introspectTable(db, `${p}_nokey`),
      (e) => e instanceof ConfigurationError && /has no primary key/.test(e.message),
    );
    await assert.rejects(
      introspectTable(db, `${p}_composite`),
      (e) => e instanceof ConfigurationError && /composite primary key \(2 columns\)/.test(e.message),
    );
  });
});
