/**
 * Meteor's collection mutation methods (reference/ddp.md §1.11; packages/allow-deny/allow-deny.js): what a stock
 * Meteor client calls for `Todos.insert/update/remove` — `/<collection>/insert|update|remove` (Meteor 2 style)
 * and `/<collection>/insertAsync|updateAsync|removeAsync` (Meteor 3). `App.collection(name, {allow, deny})`
 * registers all six; without rules none exist (404, as in Meteor without `insecure`). They are ordinary methods:
 * one transaction, the write fence, the result then `writesDelivered`.
 *
 * Wire contract, as Meteor:
 * - `insert(doc)` → the new document's `_id`. A client-chosen `_id` is kept; without one (a Meteor client's
 *   outermost insert sends none, only the method's `randomSeed`) the id comes from the method's random stream
 *   `/collection/<name>`, so it equals the id the client's stub generated.
 * - `update(selector, modifier, options?)` → number of documents changed (0 or 1); `remove(selector)` → 0 or 1.
 *   A missing document is 0, without consulting the rules.
 * - Selectors must be an id or `{_id: id}`: anything else → `403 Not permitted. Untrusted code may only <method>
 *   documents by ID.` (`<method>` as called: `update`, `updateAsync`, …).
 * - Denied → `403 Access denied`; upserts → `403 Access denied. Upserts not allowed in a restricted collection.`;
 *   modifier checks in modifier.ts.
 */
import type { MethodDefinition } from './app.js';
import { type CollectionRules, hasAllowRule, isPermitted, type WriteKind } from './collection-rules.js';
import type { Fields, MethodContext } from './contexts.js';
import { ClientError } from './errors.js';
import { parseModifier } from './modifier.js';

/** The six method suffixes, Meteor 2 and Meteor 3 forms. */
export const MUTATION_METHODS = [
  'insert',
  'update',
  'remove',
  'insertAsync',
  'updateAsync',
  'removeAsync',
] as const;

/** One mutation method suffix. */
export type MutationMethod = (typeof MUTATION_METHODS)[number];

const ACCESS_DENIED = 'Access denied';

function kindOf(method: MutationMethod): WriteKind {
  switch (method) {
    case 'insert':
    case 'insertAsync':
      return 'insert';
    case 'update':
    case 'updateAsync':
      return 'update';
    case 'remove':
    case 'removeAsync':
      return 'remove';
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * The document key a client selector names: an id (string or number) or `{_id: id}` with no other key
 * (Meteor's `_selectorIsIdPerhapsAsObject`); anything else is Meteor's 403.
 */
export function selectorId(selector: unknown, method: string): string | number {
  if (typeof selector === 'string' || typeof selector === 'number') return selector;
  if (isPlainObject(selector) && Object.keys(selector).length === 1) {
    const id = selector._id;
    if (typeof id === 'string' || typeof id === 'number') return id;
  }
  throw new ClientError(403, `Not permitted. Untrusted code may only ${method} documents by ID.`);
}

/** The handler of `/<collection>/<method>` under `rules`. */
function handler(collection: string, method: MutationMethod, rules: CollectionRules) {
  const kind = kindOf(method);
  const refuseWithoutAllow = (): void => {
    if (!hasAllowRule(rules, kind))
      throw new ClientError(
        403,
        `Access denied. No allow validators set on restricted collection for method '${method}'.`,
      );
  };
  switch (kind) {
    case 'insert':
      return async (ctx: MethodContext, doc?: unknown): Promise<unknown> => {
        if (!isPlainObject(doc)) throw new ClientError(400, 'Match failed');
        refuseWithoutAllow();
        const fields: Fields = { ...doc };
        if (!(await isPermitted(rules, 'insert', ctx, fields))) throw new ClientError(403, ACCESS_DENIED);
        return ctx.insert(collection, fields);
      };
    case 'update':
      return async (ctx: MethodContext, selector?: unknown, modifier?: unknown, options?: unknown) => {
        const id = selectorId(selector, method);
        refuseWithoutAllow();
        if (isPlainObject(options) && options.upsert)
          throw new ClientError(403, 'Access denied. Upserts not allowed in a restricted collection.');
        const parsed = parseModifier(modifier);
        const doc = await ctx.findOne(collection, id, { forUpdate: true });
        if (!doc) return 0;
        const mod = modifier as Record<string, unknown>;
        if (!(await isPermitted(rules, 'update', ctx, doc, parsed.fieldNames, mod)))
          throw new ClientError(403, ACCESS_DENIED);
        return (await ctx.modify(collection, id, mod)) ? 1 : 0;
      };
    case 'remove':
      return async (ctx: MethodContext, selector?: unknown): Promise<number> => {
        const id = selectorId(selector, method);
        refuseWithoutAllow();
        const doc = await ctx.findOne(collection, id, { forUpdate: true });
        if (!doc) return 0;
        if (!(await isPermitted(rules, 'remove', ctx, doc))) throw new ClientError(403, ACCESS_DENIED);
        return (await ctx.remove(collection, id)) ? 1 : 0;
      };
  }
}

/** The six mutation method definitions of `collection` under `rules`. */
export function mutationMethods(collection: string, rules: CollectionRules): MethodDefinition[] {
  return MUTATION_METHODS.map((method) => ({
    name: `/${collection}/${method}`,
    handler: handler(collection, method, rules) as MethodDefinition['handler'],
    params: undefined,
    transaction: true,
  }));
}
