/**
 * Mongo-style update modifiers on one row: `{$set: {title: 'x'}, $unset: {done: ''}, $inc: {votes: 1}}` become
 * column assignments (`title = $1`, `done = NULL`, `votes = COALESCE(votes, 0) + $2`). Used by
 * `MethodContext.modify` and by the collection mutation methods (`/<collection>/update`, mutation-methods.ts).
 *
 * Two steps, in Meteor's order (packages/allow-deny/allow-deny.js, `_validatedUpdateAsync`):
 * {@link parseModifier} applies Meteor's checks for restricted collections — an update, not a replacement, and only
 * the operators Meteor allows — and names the fields touched (what allow/deny `update` rules get as
 * `fieldNames`); {@link compileModifier} maps the supported operators onto the table's columns.
 *
 * Supported: `$set`, `$unset`, `$inc` on top-level fields. Meteor allows more (`$push`, `$addToSet`, …) on
 * restricted collections; pgrt refuses those with 400, as it does nested paths (`'a.b'`).
 */
import type { ColumnInfo, TableInfo } from './database/table-info.js';
import { ClientError } from './errors.js';

/** A Mongo-style update modifier, as clients send it. */
export type Modifier = Readonly<Record<string, unknown>>;

/** Meteor's error when a restricted update is a replacement (or empty). */
export const NO_REPLACE_REASON =
  "Access denied. In a restricted collection you can only update documents, not replace them. Use a Mongo update operator, such as '$set'.";

/** The operators Meteor lets clients use on a restricted collection (`ALLOWED_UPDATE_OPERATIONS`). */
const METEOR_ALLOWED = new Set([
  '$inc',
  '$set',
  '$unset',
  '$addToSet',
  '$pop',
  '$pullAll',
  '$pull',
  '$pushAll',
  '$push',
  '$bit',
]);

/** The operators pgrt implements. */
const SUPPORTED = new Set(['$set', '$unset', '$inc']);

/** A modifier that passed Meteor's checks. */
export interface ParsedModifier {
  /** Top-level fields touched (the part before the first dot), in first-seen order, without duplicates. */
  readonly fieldNames: readonly string[];
  /** Operator → its `{field: value}` argument. */
  readonly operations: ReadonlyMap<string, Readonly<Record<string, unknown>>>;
}

/** One column assignment of an UPDATE. */
export type Assignment =
  | { readonly op: 'set'; readonly column: ColumnInfo; readonly value: unknown }
  | { readonly op: 'unset'; readonly column: ColumnInfo }
  | { readonly op: 'inc'; readonly column: ColumnInfo; readonly by: number };

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Meteor's checks of a client's modifier on a restricted collection, with Meteor's errors: not an object →
 * 400 `Match failed`; no operator, or a key without `$` → 403 {@link NO_REPLACE_REASON}; an operator Meteor does
 * not allow (`$rename`, `$setOnInsert`, …) → 403 `Access denied. Operator $x not allowed in a restricted
 * collection.`; an operator argument that is not an object → 409 (Mongo's error, which Meteor reports as 409).
 */
export function parseModifier(modifier: unknown): ParsedModifier {
  if (!isPlainObject(modifier)) throw new ClientError(400, 'Match failed');
  const operators = Object.keys(modifier);
  if (operators.length === 0) throw new ClientError(403, NO_REPLACE_REASON);
  const fieldNames = new Set<string>();
  const operations = new Map<string, Readonly<Record<string, unknown>>>();
  for (const op of operators) {
    if (!op.startsWith('$')) throw new ClientError(403, NO_REPLACE_REASON);
    if (!METEOR_ALLOWED.has(op))
      throw new ClientError(403, `Access denied. Operator ${op} not allowed in a restricted collection.`);
    const argument = modifier[op];
    if (!isPlainObject(argument)) throw new ClientError(409, `Modifier ${op}'s argument must be an object`);
    for (const field of Object.keys(argument)) fieldNames.add(field.split('.')[0]!);
    operations.set(op, argument);
  }
  return { fieldNames: [...fieldNames], operations };
}

/**
 * Maps a parsed modifier onto `table`'s columns. Refused (400): operators other than `$set`/`$unset`/`$inc`,
 * nested paths, unknown fields. Refused (409, Mongo's messages): changing `_id` or the key column, `$inc` by a
 * non-number or on a non-numeric column, the same field under two operators.
 */
export function compileModifier(parsed: ParsedModifier, table: TableInfo, collection: string): Assignment[] {
  const assignments: Assignment[] = [];
  const seen = new Set<string>();
  for (const [op, argument] of parsed.operations) {
    if (!SUPPORTED.has(op)) throw new ClientError(400, `Update operator ${op} is not supported`);
    for (const [field, value] of Object.entries(argument)) {
      if (field.includes('.')) throw new ClientError(400, `Nested field paths are not supported: '${field}'`);
      if (field === '_id' || field === table.key.name) throw new ClientError(409, 'Mod on _id not allowed');
      const column = table.columns.get(field);
      if (!column) throw new ClientError(400, `Unknown field '${field}' for collection '${collection}'`);
      if (seen.has(field))
        throw new ClientError(409, `Updating the path '${field}' would create a conflict at '${field}'`);
      seen.add(field);
      switch (op) {
        case '$set':
          assignments.push(
            value === undefined || value === null ? { op: 'unset', column } : { op: 'set', column, value },
          );
          break;
        case '$unset':
          assignments.push({ op: 'unset', column });
          break;
        case '$inc':
          if (typeof value !== 'number' || !Number.isFinite(value))
            throw new ClientError(409, 'Modifier $inc allowed for numbers only');
          if (!['int', 'bigint', 'numeric', 'float'].includes(column.kind))
            throw new ClientError(409, `Cannot apply $inc to a value of non-numeric type (field '${field}')`);
          assignments.push({ op: 'inc', column, by: value });
          break;
        default:
          throw new ClientError(400, `Update operator ${op} is not supported`);
      }
    }
  }
  return assignments;
}
