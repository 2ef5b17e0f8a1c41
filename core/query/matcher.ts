/**
 * Compiles a {@link Predicate} to an in-memory test on a document, node for node the same semantics as sql.ts
 * (absent field ⇔ SQL NULL; see selector.ts for each node's meaning). Operands are normalized once here, so a
 * match costs one `read` and one comparison per leaf.
 */
import type { Row } from '../database/table-info.js';
import type { Predicate, RangeOperator } from './selector.js';

/** An in-memory predicate on documents. */
export type Matcher = (doc: Row) => boolean;

const RANGE_TESTS: Readonly<Record<RangeOperator, (order: number) => boolean>> = {
  '<': (order) => order < 0,
  '<=': (order) => order <= 0,
  '>': (order) => order > 0,
  '>=': (order) => order >= 0,
};

/** Compiles `predicate` to a {@link Matcher} that agrees with the SQL of `compileSql(predicate)` on every row. */
export function compileMatcher(predicate: Predicate): Matcher {
  switch (predicate.type) {
    case 'true':
      return () => true;
    case 'and': {
      const items = predicate.items.map(compileMatcher);
      return (doc) => items.every((item) => item(doc));
    }
    case 'or': {
      const items = predicate.items.map(compileMatcher);
      return (doc) => items.some((item) => item(doc));
    }
    case 'not': {
      const item = compileMatcher(predicate.item);
      return (doc) => !item(doc);
    }
    case 'absent': {
      const { type } = predicate.field;
      const present = predicate.present;
      return (doc) => (type.read(doc) !== undefined) === present;
    }
    case 'eq':
    case 'ne': {
      const { type } = predicate.field;
      const operand = predicate.operand.value;
      const equal = predicate.type === 'eq';
      return (doc) => {
        const value = type.read(doc);
        return (value !== undefined && type.equals(value, operand)) === equal;
      };
    }
    case 'range': {
      const { type } = predicate.field;
      const operand = predicate.operand.value;
      const test = RANGE_TESTS[predicate.op];
      return (doc) => {
        const value = type.read(doc);
        return value !== undefined && test(type.compare(value, operand));
      };
    }
    case 'in':
    case 'nin': {
      const { type } = predicate.field;
      const operands = predicate.operands.map((operand) => operand.value);
      const { withNull } = predicate;
      const positive = predicate.type === 'in';
      return (doc) => {
        const value = type.read(doc);
        const found =
          value === undefined ? withNull : operands.some((operand) => type.equals(value, operand));
        return found === positive;
      };
    }
  }
}
