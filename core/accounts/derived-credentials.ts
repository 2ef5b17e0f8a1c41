/**
 * Password-derived credentials: what a protocol's own login needs to keep about a user's password besides the
 * bcrypt hash (e.g. a salted PBKDF2 key for a challenge-response handshake), kept by core without knowing what it
 * is for. A protocol adapter registers a deriver under a name; core calls it with the password's digest (the
 * lowercase hex SHA-256 that Meteor clients send) whenever it knows that digest — when a password is set and at
 * each successful password login — and stores the result per user and name in `pgrt.user_credentials`, a table
 * without capture triggers, so nothing derived ever travels on the bus.
 *
 * Lifecycle: setting a password replaces every derived credential of the user (each registered deriver runs
 * again, credentials of unregistered names are dropped); a password login derives those still missing (users
 * imported from Meteor with only a bcrypt hash, or whose password was set before the deriver was registered);
 * importing a user drops theirs. Deleting a user deletes them (foreign key).
 *
 * Database secrets: a random 32-byte secret per name, made once per database (`pgrt.secrets`), the same on every
 * process, for what a protocol must derive alike everywhere without a stored credential (e.g. the salt a
 * challenge for an unknown user carries, so it looks like a known user's and stays the same on every process).
 */
import { randomBytes } from 'node:crypto';
import type { Queryable } from '../database/database.js';
import { ConfigurationError } from '../errors.js';

/** Derives a credential from a password digest; the result is stored as JSON and handed back as is. */
export type CredentialDeriver = (digest: string) => Readonly<Record<string, unknown>>;

/** The registered derivers of one accounts plug-in and the SQL on `pgrt.user_credentials`. */
export class DerivedCredentials {
  readonly #derivers = new Map<string, CredentialDeriver>();
  readonly #secrets = new Map<string, Promise<Buffer>>();

  /** Registers `derive` under `name`; registering the same function again does nothing, another one throws. */
  register(name: string, derive: CredentialDeriver): void {
    if (typeof name !== 'string' || name === '')
      throw new ConfigurationError('a derived credential needs a non-empty name');
    const known = this.#derivers.get(name);
    if (known === derive) return;
    if (known) throw new ConfigurationError(`a derived credential '${name}' is already registered`);
    this.#derivers.set(name, derive);
  }

  /** Names of the registered derivers. */
  get names(): readonly string[] {
    return [...this.#derivers.keys()];
  }

  /** Replaces every derived credential of `userId` with fresh ones from `digest` (a password was set). */
  async replace(db: Queryable, userId: string, digest: string): Promise<void> {
    await db.query('DELETE FROM pgrt.user_credentials WHERE user_id = $1', [userId]);
    await this.#store(db, userId, digest, this.names);
  }

  /** Derives the registered credentials `have` lacks (after a successful password check). */
  async deriveMissing(db: Queryable, userId: string, digest: string, have: readonly string[]): Promise<void> {
    const missing = this.names.filter((name) => !have.includes(name));
    if (missing.length > 0) await this.#store(db, userId, digest, missing);
  }

  /** True when some registered credential is not in `have`. */
  lacksAny(have: readonly string[]): boolean {
    for (const name of this.#derivers.keys()) if (!have.includes(name)) return true;
    return false;
  }

  /** Drops every derived credential of `userId` (its password hash came from elsewhere). */
  async clear(db: Queryable, userId: string): Promise<void> {
    await db.query('DELETE FROM pgrt.user_credentials WHERE user_id = $1', [userId]);
  }

  /** The stored credential `name` of `userId`, or undefined. */
  async get(db: Queryable, userId: string, name: string): Promise<Record<string, unknown> | undefined> {
    const found = await db.query<{ data: Record<string, unknown> }>(
      'SELECT data FROM pgrt.user_credentials WHERE user_id = $1 AND name = $2',
      [userId, name],
    );
    return found.rows[0]?.data;
  }

  /** The database secret `name` (see the module header), made on first use; cached per process. */
  secret(db: Queryable, name: string): Promise<Buffer> {
    let secret = this.#secrets.get(name);
    if (!secret) {
      secret = this.#loadSecret(db, name);
      this.#secrets.set(name, secret);
      secret.catch(() => this.#secrets.delete(name));
    }
    return secret;
  }

  async #loadSecret(db: Queryable, name: string): Promise<Buffer> {
    await db.query('INSERT INTO pgrt.secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [
      name,
      randomBytes(32).toString('base64'),
    ]);
    const found = await db.query<{ value: string }>('SELECT value FROM pgrt.secrets WHERE name = $1', [name]);
    const value = found.rows[0]?.value;
    if (value === undefined) throw new Error(`pgrt.secrets has no '${name}'`);
    return Buffer.from(value, 'base64');
  }

  async #store(db: Queryable, userId: string, digest: string, names: readonly string[]): Promise<void> {
    for (const name of names) {
      const derive = this.#derivers.get(name);
      if (!derive) continue;
      await db.query(
        `INSERT INTO pgrt.user_credentials (user_id, name, data) VALUES ($1, $2, $3)
         ON CONFLICT (user_id, name) DO UPDATE SET data = EXCLUDED.data`,
        [userId, name, JSON.stringify(derive(digest))],
      );
    }
  }
}
