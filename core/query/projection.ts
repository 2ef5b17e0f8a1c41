/**
 * Field projections (`fields`): inclusion (`{ title: 1 }`) or exclusion (`{ body: 0 }`) of top-level columns.
 * The primary key is never removed: `_id` (or the key column's own name) may appear in either mode with either
 * value and is ignored, because the caller carries the document id separately.
 */
import type { Row, TableInfo } from '../database/table-info.js';
import { queryError, resolveField } from './selector.js';

/** A `fields` option: column name (or `_id`) → 1/true to include or 0/false to exclude. */
export type FieldsSpec = Readonly<Record<string, 0 | 1 | boolean>>;

/** A validated projection. */
export interface Projection {
  /** Columns kept, the key included; undefined when every column is kept. */
  readonly columns: ReadonlySet<string> | undefined;
  /** Applies the projection; returns `doc` itself when every column is kept, a new object otherwise. */
  project(doc: Row): Row;
}

const EVERYTHING: Projection = { columns: undefined, project: (doc) => doc };

/** Validates `spec` (undefined: keep everything). Mixing inclusion and exclusion (other than the key) throws. */
export function parseProjection(table: TableInfo, spec: FieldsSpec | undefined): Projection {
  if (spec === undefined) return EVERYTHING;
  const included = new Set<string>();
  const excluded = new Set<string>();
  for (const [name, flag] of Object.entries(spec)) {
    if (flag !== 0 && flag !== 1 && flag !== true && flag !== false) {
      queryError(table, name, 'fields values must be 0, 1, true or false');
    }
    const field = resolveField(table, name);
    if (field.path.length > 0) queryError(table, name, 'fields cannot project into json paths');
    if (field.column === table.key) continue;
    (flag === 1 || flag === true ? included : excluded).add(field.column.name);
  }
  if (included.size > 0 && excluded.size > 0) {
    queryError(table, 'fields', 'cannot mix inclusion and exclusion (except for the key)');
  }
  if (included.size === 0 && excluded.size === 0) {
    // `{}` keeps everything (Mongo); `{ _id: 1 }` keeps only the key.
    const keyOnly = Object.values(spec).some((flag) => flag === 1 || flag === true);
    if (!keyOnly) return EVERYTHING;
  }
  const keep =
    excluded.size > 0
      ? [...table.columns.keys()].filter((name) => !excluded.has(name))
      : [table.key.name, ...[...table.columns.keys()].filter((name) => included.has(name))];
  const columns: ReadonlySet<string> = new Set(keep);
  return {
    columns,
    project(doc) {
      const out: Row = {};
      for (const name of columns) if (Object.hasOwn(doc, name)) out[name] = doc[name];
      return out;
    },
  };
}
