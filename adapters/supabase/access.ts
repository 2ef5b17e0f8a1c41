/**
 * Authorization of Supabase clients, closed by default (DESIGN.md decision 14): a table's changes reach clients
 * only if the app opts the table in, and each join asks the table's rule with the client's user. A rule may narrow
 * the rows the user receives with a selector, matched by the same matcher the publications use (core/query).
 * Private channels (`config.private`) are refused unless the app's channel rule admits them.
 */
import type { ConnectionInfo } from '../../core/contexts.js';
import type { Selector } from '../../core/query/selector.js';
import type { Identity } from './identity.js';

/** What a rule is asked about. */
export interface AccessRequest {
  /** The user id (a JWT's `sub`, a resume token's user), or null when anonymous. */
  readonly userId: string | null;
  /** The JWT's claims, when the client authenticated with one. */
  readonly claims: Readonly<Record<string, unknown>> | undefined;
  /** The channel's name, without `realtime:` (e.g. `room1`). */
  readonly channel: string;
  /** Whether the client joined it as a private channel. */
  readonly private: boolean;
  /** The client's connection (id, address, headers). */
  readonly connection: ConnectionInfo;
}

/** What a table rule is asked about: a channel wants the changes of `table`. */
export interface TableAccessRequest extends AccessRequest {
  /** `schema.table`. */
  readonly table: string;
}

/**
 * A table's rule: `true` lets the user receive every row's changes, `false` refuses the join (`Unauthorized`), a
 * selector (e.g. `{ owner: userId }`) lets through only rows it matches (INSERT/UPDATE by the new row; DELETE by
 * the old record, which holds the primary key only, so a selector on other columns lets no DELETE through).
 */
export type TableRule = (request: TableAccessRequest) => boolean | Selector | Promise<boolean | Selector>;

/** A channel rule: may this user join this channel (private channels; public ones too when given)? */
export type ChannelRule = (request: AccessRequest) => boolean | Promise<boolean>;

/** The app's authorization for Supabase clients. */
export interface SupabaseAccess {
  /**
   * The tables whose changes clients may receive: `table` (schema `public`) or `schema.table`, each `true` (every
   * row, every user, anonymous included) or a {@link TableRule}. The tables must be registered collections (their
   * changes are captured). Absent: none.
   */
  readonly tables?: Readonly<Record<string, true | TableRule>>;
  /**
   * Who may join which channel. Absent: public channels are open to everyone and private ones to nobody; given,
   * it decides for both.
   */
  readonly channel?: ChannelRule;
}

/** An access request for `identity` on a channel. */
export function accessRequest(
  identity: Identity,
  channel: string,
  isPrivate: boolean,
  connection: ConnectionInfo,
): AccessRequest {
  return { userId: identity.userId, claims: identity.claims, channel, private: isPrivate, connection };
}

/** The opted-in tables by `schema.table`, with their rules. */
export function tableRules(access: SupabaseAccess | undefined): Map<string, true | TableRule> {
  const rules = new Map<string, true | TableRule>();
  for (const [name, rule] of Object.entries(access?.tables ?? {})) rules.set(qualifiedName(name), rule);
  return rules;
}

/** `schema.table` of a table name (schema `public` when none). */
export function qualifiedName(name: string): string {
  return name.includes('.') ? name : `public.${name}`;
}

/** May this user join this channel? */
export async function channelAllowed(
  access: SupabaseAccess | undefined,
  request: AccessRequest,
): Promise<boolean> {
  if (access?.channel) return await access.channel(request);
  return !request.private;
}
