/**
 * A DDP client for the fault scenarios that keeps the client-side view of one collection the way a strict Meteor
 * client does, and counts what a fault may break: a duplicate `added`, a `changed`/`removed` of a document it lacks.
 * Fields stay as sent (no EJSON decoding); the fault table has only plain values.
 */
import { DdpClient, type DdpMessage } from './ddp-client.js';

/** A subscribed client and its view. */
export class ViewClient {
  /** id → fields. */
  readonly view = new Map<string, Record<string, unknown>>();
  /** Duplicate `added` messages. */
  duplicates = 0;
  /** `changed`/`removed` for documents the client did not hold. */
  unknown = 0;

  private constructor(readonly ddp: DdpClient) {
    ddp.onData = (message) => this.#apply(message);
  }

  /** Connects to `url` and subscribes to `publication`. */
  static async open(url: string, publication: string): Promise<ViewClient> {
    const ddp = await DdpClient.connect(url);
    const client = new ViewClient(ddp);
    await ddp.subscribe(publication);
    return client;
  }

  #apply(message: DdpMessage): void {
    const id = String(message.id);
    const fields = (message.fields ?? {}) as Record<string, unknown>;
    const doc = this.view.get(id);
    if (message.msg === 'added') {
      if (doc) this.duplicates++;
      this.view.set(id, { ...fields });
      return;
    }
    if (!doc) {
      this.unknown++;
      return;
    }
    if (message.msg === 'removed') {
      this.view.delete(id);
      return;
    }
    Object.assign(doc, fields);
    if (Array.isArray(message.cleared)) for (const name of message.cleared) delete doc[String(name)];
  }
}
