/**
 * `pgrt doctor`'s migration checks (doctor.ts runs them): where pgrt's migration set and each of the app's stand in
 * `pgrt.migrations` (core/database/migrations.ts), and what the next start does with a pre-release schema.
 */
import type pg from 'pg';
import { migrationStatus } from '../../core/database/migrations.js';
import { LEGACY_SCHEMA_VERSION, PGRT_MIGRATIONS } from '../../core/database/schema.js';
import type { AppModule } from '../app-module.js';
import type { Verdict } from './doctor.js';

/**
 * The migration checks: pgrt's set, then each of the app's sets (applied, pending, or newer than this code), from
 * `pgrt.migrations`; a pre-release `pgrt.schema_version` table is reported as what the next start does with it.
 * Returns the pgrt set's applied version (null when unreadable).
 */
export async function checkMigrations(
  client: pg.Client,
  module: AppModule | undefined,
  add: (verdict: Verdict, name: string, detail: string) => void,
): Promise<number | null> {
  const legacy = await client
    .query<{ version: number | null }>(
      `SELECT (SELECT max(version) FROM pgrt.schema_version) AS version
        WHERE (SELECT relkind FROM pg_catalog.pg_class WHERE oid = to_regclass('pgrt.schema_version')) = 'r'`,
    )
    .then((r) => (r.rowCount ? (r.rows[0]?.version ?? 0) : undefined))
    .catch(() => null);
  if (legacy !== undefined) {
    if (legacy === LEGACY_SCHEMA_VERSION)
      add('warn', 'pgrt schema', `pre-release version ${legacy}: the next start (or pgrt migrate) adopts it`);
    else
      add(
        'FAIL',
        'pgrt schema',
        `pre-release version ${legacy ?? 'unknown'}: only ${LEGACY_SCHEMA_VERSION} can be adopted (start it once with a pgrt of that schema)`,
      );
    return legacy === LEGACY_SCHEMA_VERSION ? 3 : null;
  }
  const sets = [PGRT_MIGRATIONS, ...(module?.app.migrationSets ?? [])];
  const statuses = await migrationStatus(client, sets).catch(() => undefined);
  if (!statuses) {
    add('FAIL', 'pgrt schema', 'cannot read pgrt.migrations (permissions?)');
    return null;
  }
  for (const status of statuses) {
    const name = status.set === PGRT_MIGRATIONS.name ? 'pgrt schema' : `migrations ${status.set}`;
    if (status.unknown.length > 0)
      add(
        'FAIL',
        name,
        `migration ${status.unknown.join(', ')} applied by a newer release (this code knows up to ${status.latest})`,
      );
    else if (status.pending.length > 0)
      add(
        'warn',
        name,
        `version ${status.applied}; ${status.pending.length} pending up to ${status.latest} (the next start or pgrt migrate applies them)`,
      );
    else add('ok', name, `version ${status.applied}`);
  }
  return statuses[0]!.applied;
}
