/**
 * Secrets in a configuration, masked for display (`pgrt serve --print-config`, start-up logs): the password of
 * `databaseUrl`, `listenDatabaseUrl` and `natsUrl`, and the TLS key.
 */
import type { PgrtConfig } from './config-schema.js';

/** What replaces a secret. */
export const MASK = '***';

/** `postgres://u:secret@h/db` → `postgres://u:***@h/db`; unparseable URLs are masked whole. */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = MASK;
    return u.toString();
  } catch {
    return MASK;
  }
}

/** A copy of `config` with every secret masked. */
export function maskSecrets(config: PgrtConfig): PgrtConfig {
  return {
    ...config,
    ...(config.databaseUrl !== undefined ? { databaseUrl: maskUrl(config.databaseUrl) } : {}),
    ...(config.listenDatabaseUrl !== undefined
      ? { listenDatabaseUrl: maskUrl(config.listenDatabaseUrl) }
      : {}),
    natsUrl: config.natsUrl.split(',').map(maskUrl).join(','),
    ...(config.tls ? { tls: { ...config.tls, key: MASK } } : {}),
  };
}
