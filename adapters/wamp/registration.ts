/**
 * Registrations of the dealer (dealer.ts): one (uri, match) pair with its invocation policy and callees, which are
 * remote sessions or internal procedures (the meta API, the core bridge), and the call an internal procedure sees.
 */
import type { Dict, Payload } from './messages.js';
import type { Peer } from './peer.js';
import type { MatchPolicy } from './uri.js';

/** How a shared registration picks its callee. */
export type InvokePolicy = 'single' | 'roundrobin' | 'random' | 'first' | 'last';

const INVOKE_POLICIES: readonly InvokePolicy[] = ['single', 'roundrobin', 'random', 'first', 'last'];

/** Parses `REGISTER.Options.invoke` (absent: single); undefined when invalid. */
export function parseInvoke(value: unknown): InvokePolicy | undefined {
  if (value === undefined) return 'single';
  return INVOKE_POLICIES.find((p) => p === value);
}

/** A call as an internal procedure sees it. */
export interface InternalCall extends Payload {
  readonly caller: Peer;
  /** The concrete procedure URI called. */
  readonly procedure: string;
  readonly options: Dict;
  /** Aborted when the call is canceled, times out or the caller leaves. */
  readonly signal: AbortSignal;
  /** Sends a progressive result (dropped unless the caller asked for `receive_progress`). */
  progress(payload: Payload): void;
}

/** An internal procedure's outcome; `after` runs right after RESULT was sent (not when the call was dropped). */
export interface InternalResult extends Payload {
  readonly after?: () => void;
}

/**
 * A procedure implemented inside the router. Throw to answer with ERROR (mapped by to-wire-error.ts); return
 * undefined for an empty RESULT.
 */
export type InternalProcedure = (
  call: InternalCall,
) => InternalResult | undefined | Promise<InternalResult | undefined>;

/** A callee of a registration. */
export type Callee =
  | { readonly kind: 'remote'; readonly peer: Peer; readonly discloseCaller: boolean }
  | { readonly kind: 'internal'; readonly name: string; readonly handler: InternalProcedure };

/** A registration: one (uri, match) pair, its policy and callees. */
export class Registration {
  readonly callees: Callee[] = [];
  readonly created = new Date();
  readonly components: readonly string[];
  #next = 0;

  constructor(
    readonly id: number,
    readonly uri: string,
    readonly match: MatchPolicy,
    readonly invoke: InvokePolicy,
  ) {
    this.components = uri.split('.');
  }

  /** The dict of the registration meta API. */
  info(): Dict {
    return {
      id: this.id,
      created: this.created.toISOString(),
      uri: this.uri,
      match: this.match,
      invoke: this.invoke,
    };
  }

  /** Session ids of the remote callees (internal callees are listed as 0). */
  calleeIds(): number[] {
    return this.callees.map((c) => (c.kind === 'remote' ? c.peer.session : 0));
  }

  /** Picks the callee for the next call per the invocation policy. */
  pick(): Callee | undefined {
    const n = this.callees.length;
    if (n === 0) return undefined;
    switch (this.invoke) {
      case 'single':
      case 'first':
        return this.callees[0];
      case 'last':
        return this.callees[n - 1];
      case 'random':
        return this.callees[Math.floor(Math.random() * n)];
      case 'roundrobin': {
        const callee = this.callees[this.#next % n];
        this.#next = (this.#next + 1) % n;
        return callee;
      }
    }
  }
}
