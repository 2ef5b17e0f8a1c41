/**
 * Allow/deny rules: which writes clients may make to a collection directly, through Meteor's collection mutation
 * methods (`/<collection>/insert`, …; mutation-methods.ts). Meteor's semantics (packages/allow-deny/allow-deny.js):
 *
 * - a collection with no rules has no mutation methods (clients get `404 Method '/todos/insert' not found`);
 * - with rules, a write is denied if any `deny` rule of its kind returns true, else allowed if any `allow` rule of
 *   its kind returns true, else denied (`403 Access denied`); a kind with no `allow` rule at all is refused up
 *   front with Meteor's `403 Access denied. No allow validators set on restricted collection for method '…'.`
 *
 * Rules are plain functions of the method's context (`ctx.userId`, `ctx.connection`, even `ctx.query` to look
 * something up) and of the document: for `insert` the document as the client sent it (an `_id` only if the client
 * chose one), for `update` and `remove` the current document read (and row-locked) in the method's transaction.
 * Rules may be async; they must not write.
 */
import type { Document, Fields, MethodContext } from './contexts.js';
import type { Modifier } from './modifier.js';

/** May this client insert `doc`? */
export type InsertRule = (ctx: MethodContext, doc: Fields) => boolean | Promise<boolean>;

/** May this client apply `modifier` (touching top-level `fieldNames`) to `doc`? */
export type UpdateRule = (
  ctx: MethodContext,
  doc: Document,
  fieldNames: readonly string[],
  modifier: Modifier,
) => boolean | Promise<boolean>;

/** May this client remove `doc`? */
export type RemoveRule = (ctx: MethodContext, doc: Document) => boolean | Promise<boolean>;

/** One set of rules (the `allow` or the `deny` side); each kind may hold one function or several. */
export interface WriteRules {
  readonly insert?: InsertRule | readonly InsertRule[];
  readonly update?: UpdateRule | readonly UpdateRule[];
  readonly remove?: RemoveRule | readonly RemoveRule[];
}

/** A collection's rules: `allow` and `deny`, Meteor's `Collection.allow()`/`deny()`. */
export interface CollectionRules {
  readonly allow?: WriteRules;
  readonly deny?: WriteRules;
}

/** The kinds of write. */
export type WriteKind = 'insert' | 'update' | 'remove';

/** The arguments each kind's rules receive after `ctx`. */
export interface RuleArguments {
  readonly insert: [doc: Fields];
  readonly update: [doc: Document, fieldNames: readonly string[], modifier: Modifier];
  readonly remove: [doc: Document];
}

type AnyRule<K extends WriteKind> = (
  ctx: MethodContext,
  ...args: RuleArguments[K]
) => boolean | Promise<boolean>;

/** The rules of one kind on one side, as a list. */
export function rulesOf<K extends WriteKind>(rules: WriteRules | undefined, kind: K): AnyRule<K>[] {
  const value = rules?.[kind] as AnyRule<K> | readonly AnyRule<K>[] | undefined;
  if (value === undefined) return [];
  return typeof value === 'function' ? [value] : [...value];
}

/** True if the collection has at least one `allow` rule for `kind` (else Meteor refuses up front). */
export function hasAllowRule(rules: CollectionRules, kind: WriteKind): boolean {
  return rulesOf(rules.allow, kind).length > 0;
}

/**
 * Meteor's decision: false if any deny rule returns true; otherwise true if any allow rule returns true; otherwise
 * false. Rules run in order and stop as soon as the answer is known (do not rely on all of them running).
 */
export async function isPermitted<K extends WriteKind>(
  rules: CollectionRules,
  kind: K,
  ctx: MethodContext,
  ...args: RuleArguments[K]
): Promise<boolean> {
  for (const rule of rulesOf(rules.deny, kind)) if (await rule(ctx, ...args)) return false;
  for (const rule of rulesOf(rules.allow, kind)) if (await rule(ctx, ...args)) return true;
  return false;
}
