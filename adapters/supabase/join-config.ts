/**
 * The `phx_join` payload realtime-js sends (RealtimeChannel.subscribe): `{config: {broadcast, presence,
 * postgres_changes, private, postgres_changes_options?}, access_token?}`. Parsed leniently, as Supabase Realtime
 * does (RealtimeWeb.Channels.Payloads.Join: invalid fields are logged and defaults used, the join goes on).
 */

/** One `postgres_changes` binding as the client sent it (echoed back in the join reply with its `id`). */
export type PostgresChangesParams = Readonly<Record<string, unknown>>;

/** The join's configuration. */
export interface JoinConfig {
  /** `config.broadcast`: `self` (receive own broadcasts), `ack` (reply to each broadcast). */
  readonly broadcast: { readonly self: boolean; readonly ack: boolean };
  /** `config.presence`: `key` (the presence key, '' for a generated one), `enabled`. */
  readonly presence: { readonly key: string; readonly enabled: boolean };
  /** `config.private`. */
  readonly private: boolean;
  /** `config.postgres_changes`, nulls dropped, in the order sent. */
  readonly postgresChanges: readonly PostgresChangesParams[];
  /** The raw `config` object (for features reading keys of their own). */
  readonly raw: Readonly<Record<string, unknown>>;
}

/** The parsed join payload. */
export interface JoinPayload {
  readonly config: JoinConfig;
  /** `access_token` (or the older `user_token`), when a string. */
  readonly accessToken: string | undefined;
  /** Problems found (logged; the join goes on with defaults). */
  readonly problems: readonly string[];
}

/** Parses a join payload. */
export function parseJoinPayload(payload: unknown): JoinPayload {
  const problems: string[] = [];
  const body = objectOr(payload, 'payload', problems);
  const raw = objectOr(body.config, 'config', problems);
  const broadcast = objectOr(raw.broadcast, 'config.broadcast', problems);
  const presence = objectOr(raw.presence, 'config.presence', problems);
  const changes = raw.postgres_changes;
  let postgresChanges: PostgresChangesParams[] = [];
  if (Array.isArray(changes)) {
    postgresChanges = changes.filter(
      (c): c is PostgresChangesParams => typeof c === 'object' && c !== null && !Array.isArray(c),
    );
  } else if (changes !== undefined && changes !== null) {
    problems.push('config.postgres_changes must be an array');
  }
  const token = body.access_token ?? body.user_token;
  return {
    config: {
      broadcast: { self: flag(broadcast.self), ack: flag(broadcast.ack) },
      presence: {
        key: typeof presence.key === 'string' ? presence.key : '',
        enabled: flag(presence.enabled),
      },
      private: flag(raw.private),
      postgresChanges,
      raw,
    },
    accessToken: typeof token === 'string' ? token : undefined,
    problems,
  };
}

/** Supabase's FlexibleBoolean: true, "true" (any case) are true; anything else false. */
function flag(value: unknown): boolean {
  return value === true || (typeof value === 'string' && value.toLowerCase() === 'true');
}

function objectOr(value: unknown, name: string, problems: string[]): Record<string, unknown> {
  if (typeof value === 'object' && value !== null && !Array.isArray(value))
    return value as Record<string, unknown>;
  if (value !== undefined && value !== null) problems.push(`${name} must be an object`);
  return {};
}
