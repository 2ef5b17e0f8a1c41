/**
 * The dealer of one realm: registrations (exact, prefix, wildcard; shared with an invocation policy), call routing
 * to remote callees (INVOCATION/YIELD/ERROR) or internal procedures (the meta API, the core bridge), progressive
 * results, cancel (skip, kill, killnowait), call timeout and caller identification (reference/wamp.md §1.8–1.9).
 *
 * Cancel policy (§4.2): a remote callee that did not announce `call_canceling` gets no INTERRUPT (the cancel is
 * handled as `skip`). `skip` sends the caller nothing unless {@link DealerSettings.skipSendsError} (Crossbar's
 * default, not the spec's). Callers that settle a cancel locally (Autobahn|JS, see `Peer.settlesCancelLocally`)
 * get no ERROR after a `skip` or `killnowait` cancel either, since it would make them drop the connection.
 * After a cancel or timeout, the callee's late YIELD/ERROR is discarded silently.
 *
 * Progressive results are forwarded whenever the caller asked (`receive_progress`), whatever the callee announced
 * (Autobahn|JS callees do not announce `call_canceling`; Crossbar does not enforce it either).
 */
import { ProtocolViolation, WampError, WampUri } from './errors.js';
import type { IdSequence } from './ids.js';
import { type Dict, MessageCode, Out, type Payload } from './messages.js';
import type { Peer } from './peer.js';
import {
  type Callee,
  type InternalCall,
  type InternalProcedure,
  type InternalResult,
  type InvokePolicy,
  Registration,
} from './registration.js';
import { compareWildcards, type MatchPolicy, wildcardMatches } from './uri.js';
import { UriTable } from './uri-table.js';

/** Maps a thrown value to the ERROR sent to the caller. */
export type ErrorMapper = (error: unknown) => { readonly uri: string } & Payload;

/** Lifecycle hooks (the registration meta API listens). `peer` is null for internal registrations. */
export interface DealerHooks {
  onCreate(peer: Peer | null, registration: Registration): void;
  onRegister(peer: Peer | null, registration: Registration): void;
  onUnregister(peer: Peer | null, registration: Registration): void;
  onDelete(peer: Peer | null, registration: Registration): void;
}

/** Settings of a {@link Dealer}. */
export interface DealerSettings {
  /** Send ERROR `wamp.error.canceled` to the caller on a `skip` cancel (spec: yes; Crossbar: no; default false). */
  readonly skipSendsError: boolean;
  /**
   * True for procedures only exact registrations may serve (the realm's reserved namespaces): pattern
   * registrations never see calls to them. Asked only when no exact registration matched.
   */
  readonly exactOnly: (procedure: string) => boolean;
}

type CancelMode = 'skip' | 'kill' | 'killnowait';

interface PendingCall {
  readonly caller: Peer;
  readonly request: number;
  readonly callee: Callee;
  /** The callee-scope INVOCATION id (0 for internal callees). */
  readonly invocation: number;
  readonly receiveProgress: boolean;
  readonly abort: AbortController | undefined;
  /** Set by a `kill` cancel: the callee's answer becomes ERROR `wamp.error.canceled`. */
  killed: boolean;
  timer: NodeJS.Timeout | undefined;
}

/** Registrations and calls of one realm. */
export class Dealer {
  readonly #table = new UriTable<Registration>();
  /** Built-in procedures (meta API): routed before registrations, not listed by the meta API. */
  readonly #builtins = new Map<string, InternalProcedure>();
  readonly #calls = new Map<Peer, Map<number, PendingCall>>();
  readonly #invocations = new Map<Peer, Map<number, PendingCall>>();

  constructor(
    private readonly ids: IdSequence,
    private readonly hooks: DealerHooks,
    private readonly settings: DealerSettings,
    private readonly mapError: ErrorMapper,
  ) {}

  /** Adds a built-in procedure (exact URI, e.g. `wamp.session.count`). */
  addBuiltin(uri: string, handler: InternalProcedure): void {
    this.#builtins.set(uri, handler);
  }

  /** True if `uri` is a built-in procedure. */
  isBuiltin(uri: string): boolean {
    return this.#builtins.has(uri);
  }

  /**
   * Registers a callee (uri and match already validated).
   * @throws WampError `procedure_already_exists` when (uri, match) is taken by a non-shared registration, with
   *   another policy, or by the same session.
   */
  register(callee: Callee, uri: string, match: MatchPolicy, invoke: InvokePolicy): Registration {
    let registration = this.#table.lookup(uri, match);
    const peer = callee.kind === 'remote' ? callee.peer : null;
    if (registration) {
      if (
        registration.invoke === 'single' ||
        registration.invoke !== invoke ||
        (peer !== null && registration.callees.some((c) => c.kind === 'remote' && c.peer === peer)) ||
        registration.callees.some((c) => c.kind === 'internal')
      ) {
        throw new WampError(WampUri.procedureAlreadyExists);
      }
      registration.callees.push(callee);
      this.hooks.onRegister(peer, registration);
      return registration;
    }
    registration = new Registration(this.ids.next(), uri, match, invoke);
    registration.callees.push(callee);
    this.#table.add(registration);
    this.hooks.onCreate(peer, registration);
    this.hooks.onRegister(peer, registration);
    return registration;
  }

  /**
   * Removes `peer`'s callee from registration `id`.
   * @throws WampError `no_such_registration` when the session is not a callee of it.
   */
  unregister(peer: Peer, id: number): Registration {
    const registration = this.#table.get(id);
    const index = registration?.callees.findIndex((c) => c.kind === 'remote' && c.peer === peer) ?? -1;
    if (!registration || index < 0) throw new WampError(WampUri.noSuchRegistration);
    this.#removeCallee(peer, registration, index);
    return registration;
  }

  #removeCallee(peer: Peer | null, registration: Registration, index: number): void {
    registration.callees.splice(index, 1);
    this.hooks.onUnregister(peer, registration);
    if (registration.callees.length === 0) {
      this.#table.delete(registration);
      this.hooks.onDelete(peer, registration);
    }
  }

  /**
   * The registration a call to `procedure` reaches: exact, then longest prefix, then best wildcard (exact only for
   * the procedures {@link DealerSettings.exactOnly} names).
   */
  resolve(procedure: string): Registration | undefined {
    const exact = this.#table.exact.get(procedure);
    if (exact || this.settings.exactOnly(procedure)) return exact;
    let best: Registration | undefined;
    for (const registration of this.#table.prefix.values()) {
      if (procedure.startsWith(registration.uri) && (!best || registration.uri.length > best.uri.length)) {
        best = registration;
      }
    }
    if (best) return best;
    if (this.#table.wildcard.size === 0) return undefined;
    const components = procedure.split('.');
    for (const registration of this.#table.wildcard.values()) {
      if (
        wildcardMatches(registration.components, components) &&
        (!best || compareWildcards(registration.components, best.components) < 0)
      ) {
        best = registration;
      }
    }
    return best;
  }

  /**
   * Routes a CALL (procedure validated and authorized by the caller, who also decided whether the caller's
   * identity may be disclosed to the callee: `mayDisclose`, if the call or the registration asks for it).
   * @throws WampError `no_such_procedure` or `invalid_argument` (bad options); the realm answers with ERROR.
   */
  call(
    caller: Peer,
    request: number,
    procedure: string,
    options: Dict,
    payload: Payload,
    mayDisclose: boolean,
  ): void {
    const timeout = options.timeout;
    if (timeout !== undefined && (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout < 0)) {
      throw new WampError(WampUri.invalidArgument, 'option timeout must be a non-negative integer (ms)');
    }
    const receiveProgress = options.receive_progress === true;
    const builtin = this.#builtins.get(procedure);
    if (builtin) {
      const callee: Callee = { kind: 'internal', name: procedure, handler: builtin };
      this.#callInternal(caller, request, procedure, options, payload, callee, receiveProgress, timeout);
      return;
    }
    const registration = this.resolve(procedure);
    const callee = registration?.pick();
    if (!registration || !callee) throw new WampError(WampUri.noSuchProcedure);
    if (callee.kind === 'internal') {
      this.#callInternal(caller, request, procedure, options, payload, callee, receiveProgress, timeout);
      return;
    }
    const peer = callee.peer;
    const invocation = peer.nextInvocationId();
    const call: PendingCall = {
      caller,
      request,
      callee,
      invocation,
      receiveProgress,
      abort: undefined,
      killed: false,
      timer: undefined,
    };
    this.#track(call);
    const details: Dict = {};
    if (registration.match !== 'exact') details.procedure = procedure;
    if (receiveProgress) details.receive_progress = true;
    if (mayDisclose && (options.disclose_me === true || callee.discloseCaller)) {
      details.caller = caller.session;
      details.caller_authid = caller.authid;
      details.caller_authrole = caller.authrole;
    }
    if (timeout) this.#arm(call, timeout);
    peer.send(Out.invocation(invocation, registration.id, details, payload));
  }

  #callInternal(
    caller: Peer,
    request: number,
    procedure: string,
    options: Dict,
    payload: Payload,
    callee: Callee & { kind: 'internal' },
    receiveProgress: boolean,
    timeout: number | undefined,
  ): void {
    const abort = new AbortController();
    const call: PendingCall = {
      caller,
      request,
      callee,
      invocation: 0,
      receiveProgress,
      abort,
      killed: false,
      timer: undefined,
    };
    this.#track(call);
    if (timeout) this.#arm(call, timeout);
    const internal: InternalCall = {
      caller,
      procedure,
      options,
      signal: abort.signal,
      ...(payload.args ? { args: payload.args } : {}),
      ...(payload.kwargs ? { kwargs: payload.kwargs } : {}),
      progress: (p) => {
        if (receiveProgress && this.#isPending(call) && !call.killed) {
          caller.send(Out.result(request, { progress: true }, p));
        }
      },
    };
    const settle = (
      outcome: { ok: true; result: InternalResult | undefined } | { ok: false; error: unknown },
    ) => {
      if (!this.#isPending(call)) return;
      this.#untrack(call);
      if (call.killed) {
        caller.send(Out.error(MessageCode.CALL, request, {}, WampUri.canceled));
        return;
      }
      if (outcome.ok) {
        caller.send(Out.result(request, {}, outcome.result ?? {}));
        outcome.result?.after?.();
      } else {
        const { uri, ...rest } = this.mapError(outcome.error);
        caller.send(Out.error(MessageCode.CALL, request, {}, uri, rest));
      }
    };
    try {
      const result = callee.handler(internal);
      if (result instanceof Promise) {
        result.then(
          (value) => settle({ ok: true, result: value }),
          (error: unknown) => settle({ ok: false, error }),
        );
      } else {
        settle({ ok: true, result });
      }
    } catch (error) {
      settle({ ok: false, error });
    }
  }

  #track(call: PendingCall): void {
    let calls = this.#calls.get(call.caller);
    if (!calls) {
      calls = new Map();
      this.#calls.set(call.caller, calls);
    }
    calls.set(call.request, call);
    if (call.callee.kind === 'remote') {
      let invocations = this.#invocations.get(call.callee.peer);
      if (!invocations) {
        invocations = new Map();
        this.#invocations.set(call.callee.peer, invocations);
      }
      invocations.set(call.invocation, call);
    }
  }

  #untrack(call: PendingCall): void {
    if (call.timer) clearTimeout(call.timer);
    call.timer = undefined;
    this.#calls.get(call.caller)?.delete(call.request);
    if (call.callee.kind === 'remote') this.#invocations.get(call.callee.peer)?.delete(call.invocation);
  }

  #isPending(call: PendingCall): boolean {
    return this.#calls.get(call.caller)?.get(call.request) === call;
  }

  #arm(call: PendingCall, timeout: number): void {
    call.timer = setTimeout(() => {
      call.timer = undefined;
      if (!this.#isPending(call)) return;
      this.#untrack(call);
      this.#interrupt(call, 'killnowait', WampUri.timeout);
      call.caller.send(Out.error(MessageCode.CALL, call.request, {}, WampUri.timeout));
    }, timeout);
    call.timer.unref();
  }

  /** Tells the callee to stop (INTERRUPT when it supports canceling; abort for internal procedures). */
  #interrupt(call: PendingCall, mode: 'kill' | 'killnowait', reason: string): void {
    const callee = call.callee;
    if (callee.kind === 'internal') call.abort?.abort(new WampError(reason));
    else if (callee.peer.supports('callee', 'call_canceling')) {
      callee.peer.send(Out.interrupt(call.invocation, { mode, reason }));
    }
  }

  /**
   * Handles CANCEL from `caller`. Unknown (already answered) requests are ignored.
   * @throws ProtocolViolation for a mode that is not skip, kill or killnowait.
   */
  cancel(caller: Peer, request: number, options: Dict): void {
    const modeOption = options.mode ?? 'killnowait';
    if (modeOption !== 'skip' && modeOption !== 'kill' && modeOption !== 'killnowait') {
      throw new ProtocolViolation(`invalid CANCEL mode ${JSON.stringify(modeOption)}`);
    }
    const call = this.#calls.get(caller)?.get(request);
    if (!call || call.killed) return;
    let mode: CancelMode = modeOption;
    if (call.callee.kind === 'remote' && !call.callee.peer.supports('callee', 'call_canceling'))
      mode = 'skip';
    switch (mode) {
      case 'skip':
        this.#untrack(call);
        call.abort?.abort(new WampError(WampUri.canceled));
        if (this.settings.skipSendsError && !caller.settlesCancelLocally) {
          caller.send(Out.error(MessageCode.CALL, request, {}, WampUri.canceled));
        }
        return;
      case 'killnowait':
        this.#untrack(call);
        this.#interrupt(call, 'killnowait', WampUri.canceled);
        if (!caller.settlesCancelLocally)
          caller.send(Out.error(MessageCode.CALL, request, {}, WampUri.canceled));
        return;
      case 'kill':
        call.killed = true;
        this.#interrupt(call, 'kill', WampUri.canceled);
        return;
    }
  }

  #invocation(callee: Peer, request: number): PendingCall | undefined {
    const call = this.#invocations.get(callee)?.get(request);
    if (call) return call;
    if (request > callee.lastInvocationId) throw new ProtocolViolation(`no INVOCATION ${request} was issued`);
    return undefined;
  }

  /**
   * Handles YIELD from a callee.
   * @throws ProtocolViolation for an invocation id never issued to it.
   */
  yield(callee: Peer, request: number, options: Dict, payload: Payload): void {
    const call = this.#invocation(callee, request);
    if (!call) return;
    if (options.progress === true) {
      if (call.receiveProgress && !call.killed)
        call.caller.send(Out.result(call.request, { progress: true }, payload));
      return;
    }
    this.#untrack(call);
    if (call.killed) call.caller.send(Out.error(MessageCode.CALL, call.request, {}, WampUri.canceled));
    else call.caller.send(Out.result(call.request, {}, payload));
  }

  /**
   * Handles ERROR for an INVOCATION: forwarded to the caller unchanged (`wamp.error.canceled` after a kill).
   * @throws ProtocolViolation for an invocation id never issued to it.
   */
  error(callee: Peer, request: number, error: string, payload: Payload): void {
    const call = this.#invocation(callee, request);
    if (!call) return;
    this.#untrack(call);
    call.caller.send(
      Out.error(MessageCode.CALL, call.request, {}, call.killed ? WampUri.canceled : error, payload),
    );
  }

  /** A session left: its calls are interrupted, its invocations fail with `canceled`, its registrations go. */
  removeSession(peer: Peer): void {
    const calls = this.#calls.get(peer);
    if (calls) {
      for (const call of [...calls.values()]) {
        this.#untrack(call);
        this.#interrupt(call, 'killnowait', WampUri.canceled);
      }
      this.#calls.delete(peer);
    }
    const invocations = this.#invocations.get(peer);
    if (invocations) {
      for (const call of [...invocations.values()]) {
        this.#untrack(call);
        call.caller.send(Out.error(MessageCode.CALL, call.request, {}, WampUri.canceled));
      }
      this.#invocations.delete(peer);
    }
    for (const registration of this.#table.all()) {
      const index = registration.callees.findIndex((c) => c.kind === 'remote' && c.peer === peer);
      if (index >= 0) this.#removeCallee(peer, registration, index);
    }
  }

  // ---- meta API ----------------------------------------------------------------------------------------------

  /** Registration by id. */
  get(id: number): Registration | undefined {
    return this.#table.get(id);
  }

  /** Ids of all registrations by match policy (`wamp.registration.list`). */
  list(): Dict {
    return this.#table.ids();
  }

  /** The registration of exactly (uri, match) (`wamp.registration.lookup`). */
  lookup(uri: string, match: MatchPolicy): Registration | undefined {
    return this.#table.lookup(uri, match);
  }
}
