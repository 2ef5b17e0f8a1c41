/**
 * The database access of one method call. Nothing touches PostgreSQL until the handler runs its first statement:
 * a method that never queries costs no round trip, no transaction and no fence (its `writesDelivered` goes out at once).
 * A transactional method's first statement opens the transaction; `finish` ends it, running the write-fence
 * statement last so its notification follows every change of the transaction.
 */
import type { Database, Queryable, QueryResult, Transaction } from './database/database.js';

/** Lazily opened database access for one method invocation. */
export class MethodDatabase implements Queryable {
  #tx: Promise<Transaction> | undefined;
  #used = false;

  constructor(
    private readonly db: Database,
    /** Open a transaction on first use (method option `transaction`, default true). */
    private readonly transactional: boolean,
  ) {}

  /** True once the handler ran a statement. */
  get used(): boolean {
    return this.#used;
  }

  query<R = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
    this.#used = true;
    if (!this.transactional) return this.db.query<R>(text, params);
    this.#tx ??= this.db.begin();
    return this.#tx.then((tx) => tx.query<R>(text, params));
  }

  /**
   * Ends a transactional call: on success runs `fence(tx)` as the last statement, then commits, and returns what
   * `fence` returned; on failure rolls back and returns false. Without a transaction, returns false. Rejects when
   * the fence statement or COMMIT fails (the transaction is then rolled back).
   */
  async finish(succeeded: boolean, fence: (tx: Queryable) => Promise<boolean>): Promise<boolean> {
    if (!this.#tx) return false;
    let tx: Transaction;
    try {
      tx = await this.#tx;
    } catch {
      return false; // BEGIN itself failed; the handler saw that error already
    }
    if (!succeeded) {
      await tx.rollback();
      return false;
    }
    let fenced: boolean;
    try {
      fenced = await fence(tx);
    } catch (error) {
      await tx.rollback();
      throw error;
    }
    await tx.commit();
    return fenced;
  }
}
