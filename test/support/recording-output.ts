/**
 * A {@link SessionOutput} for core-level tests: records every message and keeps the client's view
 * (collection → id → fields) exactly as a strict Meteor client would, failing loudly on a duplicate `added`
 * or a `changed`/`removed` for a document the client lacks. Messages are recorded in DDP's shorthand: `ready`,
 * `nosub`, `result`, `updated` for `subscriptionsReady`, `subscriptionStopped`, `methodResult`, `writesDelivered`.
 */
import type { Fields } from '../../core/contexts.js';
import type { MethodOutcome, SessionOutput } from '../../core/session.js';

/** One recorded output message. */
export type Recorded =
  | { msg: 'added'; collection: string; id: string; fields: Fields }
  | { msg: 'changed'; collection: string; id: string; fields: Fields; cleared: readonly string[] }
  | { msg: 'removed'; collection: string; id: string }
  | { msg: 'ready'; subs: readonly string[] }
  | { msg: 'nosub'; id: string; error?: unknown }
  | { msg: 'result'; id: string; outcome: MethodOutcome }
  | { msg: 'updated'; methods: readonly string[] };

/** Records a session's output and maintains the client-side view. */
export class RecordingOutput implements SessionOutput {
  readonly messages: Recorded[] = [];
  readonly view = new Map<string, Map<string, Fields>>();
  readonly violations: string[] = [];
  #waiters: Array<{ test: (m: Recorded) => boolean; resolve: (m: Recorded) => void }> = [];

  added(collection: string, id: string, fields: Fields): void {
    const docs = this.#docs(collection);
    if (docs.has(id)) this.violations.push(`duplicate added ${collection}/${id}`);
    docs.set(id, { ...fields });
    this.#record({ msg: 'added', collection, id, fields });
  }

  changed(collection: string, id: string, fields: Fields, cleared: readonly string[]): void {
    const doc = this.#docs(collection).get(id);
    if (!doc) this.violations.push(`changed for missing ${collection}/${id}`);
    else {
      Object.assign(doc, fields);
      for (const name of cleared) delete doc[name];
    }
    this.#record({ msg: 'changed', collection, id, fields, cleared });
  }

  removed(collection: string, id: string): void {
    if (!this.#docs(collection).delete(id)) this.violations.push(`removed for missing ${collection}/${id}`);
    this.#record({ msg: 'removed', collection, id });
  }

  subscriptionsReady(subs: readonly string[]): void {
    this.#record({ msg: 'ready', subs });
  }

  subscriptionStopped(id: string, error?: unknown): void {
    this.#record(error === undefined ? { msg: 'nosub', id } : { msg: 'nosub', id, error });
  }

  methodResult(id: string, outcome: MethodOutcome): void {
    this.#record({ msg: 'result', id, outcome });
  }

  writesDelivered(methods: readonly string[]): void {
    this.#record({ msg: 'updated', methods });
  }

  /** Resolves with the first message (already recorded or future) matching `test`. */
  waitFor(test: (m: Recorded) => boolean, timeoutMs = 5000): Promise<Recorded> {
    const found = this.messages.find(test);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out waiting; last: ${JSON.stringify(this.messages.slice(-5))}`)),
        timeoutMs,
      );
      this.#waiters.push({
        test,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  }

  /** The view of one collection as a plain object id → fields. */
  collection(name: string): Record<string, Fields> {
    return Object.fromEntries(this.#docs(name));
  }

  #docs(collection: string): Map<string, Fields> {
    let docs = this.view.get(collection);
    if (!docs) {
      docs = new Map();
      this.view.set(collection, docs);
    }
    return docs;
  }

  #record(message: Recorded): void {
    this.messages.push(message);
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) {
      if (waiter.test(message)) waiter.resolve(message);
      else this.#waiters.push(waiter);
    }
  }
}
