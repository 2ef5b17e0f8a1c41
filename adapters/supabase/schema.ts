/**
 * The adapter's SQL (migrations/*.sql, migration set `pgrt.supabase`): `pgrt.broadcast(…)`, and the presence tables.
 * Registered on the app by the features that need it, once however many do.
 */
import type { App } from '../../core/app.js';
import { type MigrationSet, migrationSet } from '../../core/database/migrations.js';

/** The adapter's migration set. */
export const SUPABASE_MIGRATIONS: MigrationSet = migrationSet(
  'pgrt.supabase',
  new URL('./migrations/', import.meta.url),
);

/** Registers {@link SUPABASE_MIGRATIONS} on `app` unless it is already registered. */
export function useSupabaseSchema(app: App): void {
  if (app.migrationSets.some((set) => set.name === SUPABASE_MIGRATIONS.name)) return;
  app.migrations(SUPABASE_MIGRATIONS.name, SUPABASE_MIGRATIONS.migrations);
}

/** The key broadcast and presence file a channel under: public and private channels of one name are distinct. */
export function channelKey(subTopic: string, isPrivate: boolean): string {
  return `${isPrivate ? 'private' : 'public'}:${subTopic}`;
}
