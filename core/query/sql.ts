/**
 * Compiles a {@link Predicate} to a SQL boolean expression over the alias `t`, with its parameters. Every node
 * maps to SQL whose truth agrees with matcher.ts on every row, reading SQL NULL as "false" (which is what WHERE,
 * AND and OR do); the only negation, `not`, therefore wraps its operand in `COALESCE(…, FALSE)`.
 */
import type { Operand } from './field-type.js';
import type { Predicate } from './selector.js';

/** A parameter value for `pg`: text in the cast's input syntax, a Buffer for bytea, or SQL NULL. */
export type SqlParam = string | Buffer | null;

/** A compiled WHERE expression and its `$1..$n` values. */
export interface SqlCondition {
  /** Boolean expression over alias `t`; `TRUE` for the empty selector. */
  readonly where: string;
  readonly params: readonly SqlParam[];
}

/** One element of a PostgreSQL array literal: always double-quoted, so no element needs further thought. */
function arrayElement(operand: Operand): string {
  const text = typeof operand.param === 'string' ? operand.param : `\\x${operand.param.toString('hex')}`;
  return `"${text.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

/** Compiles `predicate`; parameters are numbered from `$1` in depth-first, left-to-right order. */
export function compileSql(predicate: Predicate): SqlCondition {
  const params: SqlParam[] = [];
  const bind = (value: SqlParam, cast: string): string => {
    params.push(value);
    return `$${params.length}::${cast}`;
  };
  const visit = (node: Predicate): string => {
    switch (node.type) {
      case 'true':
        return 'TRUE';
      case 'and':
      case 'or':
        return `(${node.items.map(visit).join(node.type === 'and' ? ' AND ' : ' OR ')})`;
      case 'not':
        return `NOT COALESCE(${visit(node.item)}, FALSE)`;
      case 'absent':
        return `${node.field.type.sql} ${node.present ? 'IS NOT NULL' : 'IS NULL'}`;
      case 'eq':
        return `${node.field.type.sql} = ${bind(node.operand.param, node.field.type.cast)}`;
      case 'ne':
        return `${node.field.type.sql} IS DISTINCT FROM ${bind(node.operand.param, node.field.type.cast)}`;
      case 'range':
        return `${node.field.type.orderSql} ${node.op} ${bind(node.operand.param, node.field.type.cast)}`;
      case 'in':
      case 'nin': {
        const { sql, cast } = node.field.type;
        const positive = node.type === 'in';
        if (node.operands.length === 0) {
          if (node.withNull) return `${sql} ${positive ? 'IS NULL' : 'IS NOT NULL'}`;
          return positive ? 'FALSE' : 'TRUE';
        }
        const list = `{${node.operands.map(arrayElement).join(',')}}`;
        const any = `${sql} = ANY(${bind(list, `${cast}[]`)})`;
        if (positive) return node.withNull ? `(${sql} IS NULL OR ${any})` : any;
        return node.withNull ? `(${sql} IS NOT NULL AND NOT (${any}))` : `(${sql} IS NULL OR NOT (${any}))`;
      }
    }
  };
  return { where: visit(predicate), params };
}
