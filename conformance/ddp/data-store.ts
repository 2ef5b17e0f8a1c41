/**
 * The client-side picture of the server's collections, built from `added`/`changed`/`removed` exactly as a Meteor
 * client's store would, with the checks a Meteor client enforces by throwing (ddp.md §1.7 "Client strictness"):
 * no `added` for an id already present, no `changed`/`removed` for an id that is absent. Violations are recorded,
 * not thrown, so a case can assert on them (checklist 88).
 */
import type { DdpMessage, JsonObject, JsonValue } from './client.js';

function isObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Documents per collection as the client sees them, plus every protocol violation observed. */
export class DataStore {
  /** collection → id → fields. */
  readonly collections = new Map<string, Map<string, JsonObject>>();
  /** Human-readable descriptions of inconsistent data messages, in arrival order. */
  readonly violations: string[] = [];

  /** The document `id` of `collection`, or undefined. */
  get(collection: string, id: string): JsonObject | undefined {
    return this.collections.get(collection)?.get(id);
  }

  /** The ids present in `collection`, sorted. */
  ids(collection: string): string[] {
    return [...(this.collections.get(collection)?.keys() ?? [])].sort();
  }

  /** Applies one `added`, `changed` or `removed` message. Malformed or inconsistent ones are recorded. */
  apply(message: DdpMessage): void {
    const { collection, id } = message;
    if (typeof collection !== 'string' || typeof id !== 'string') {
      this.violations.push(`data message without string collection/id: ${JSON.stringify(message)}`);
      return;
    }
    let docs = this.collections.get(collection);
    if (!docs) {
      docs = new Map();
      this.collections.set(collection, docs);
    }
    const existing = docs.get(id);
    const fields = message.fields;
    if (fields !== undefined && !isObject(fields)) {
      this.violations.push(`fields is not an object: ${JSON.stringify(message)}`);
      return;
    }
    switch (message.msg) {
      case 'added':
        if (existing)
          this.violations.push(`added for an id the client already has: ${JSON.stringify(message)}`);
        docs.set(id, { ...(fields ?? {}) });
        return;
      case 'changed': {
        if (!existing) {
          this.violations.push(`changed for an id the client lacks: ${JSON.stringify(message)}`);
          return;
        }
        Object.assign(existing, fields ?? {});
        const cleared = message.cleared;
        if (cleared !== undefined) {
          if (!Array.isArray(cleared))
            this.violations.push(`cleared is not an array: ${JSON.stringify(message)}`);
          else for (const key of cleared) if (typeof key === 'string') delete existing[key];
        }
        return;
      }
      case 'removed':
        if (!existing) this.violations.push(`removed for an id the client lacks: ${JSON.stringify(message)}`);
        docs.delete(id);
        return;
      default:
        this.violations.push(`not a data message: ${JSON.stringify(message)}`);
    }
  }
}
