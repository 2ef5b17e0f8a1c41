/**
 * The meta API procedures of a realm (reference/wamp.md §1.9): sessions (`wamp.session.count/list/get/kill*`,
 * testaments), subscriptions and registrations (`list`, `lookup`, `match`, `get`, `list_subscribers`/`list_callees`, `count_subscribers`/`count_callees`). The meta events
 * (`on_join`, `on_leave`, `on_create`, …) are published by realm.ts. Procedures are built-ins of the dealer: they
 * are callable (subject to `call` authorization) but are not registrations, so they never show in
 * `wamp.registration.list`.
 */

import { WampError, WampUri } from './errors.js';
import { isWampId } from './ids.js';
import { type Dict, isDict } from './messages.js';
import type { Peer } from './peer.js';
import type { Realm } from './realm.js';
import type { InternalCall, InternalProcedure } from './registration.js';
import { parseMatch } from './uri.js';

function arg(call: InternalCall, index: number): unknown {
  return call.args?.[index];
}

function idArg(call: InternalCall, index: number, what: string): number {
  const value = arg(call, index);
  if (!isWampId(value)) throw new WampError(WampUri.invalidArgument, `${what} must be an id`);
  return value;
}

function stringArg(call: InternalCall, index: number, what: string): string {
  const value = arg(call, index);
  if (typeof value !== 'string') throw new WampError(WampUri.invalidArgument, `${what} must be a string`);
  return value;
}

function rolesFilter(call: InternalCall): ((peer: Peer) => boolean) | undefined {
  const roles = arg(call, 0);
  if (roles === undefined || roles === null) return undefined;
  if (!Array.isArray(roles) || !roles.every((r) => typeof r === 'string')) {
    throw new WampError(WampUri.invalidArgument, 'authroles must be a list of strings');
  }
  const set = new Set<string>(roles);
  return (peer) => set.has(peer.authrole);
}

function one(value: unknown): { args: unknown[] } {
  return { args: [value] };
}

function killOptions(call: InternalCall): { reason: string; message: string | undefined } {
  const kwargs = call.kwargs ?? {};
  const reason = kwargs.reason ?? WampUri.killed;
  const message = kwargs.message;
  if (typeof reason !== 'string') throw new WampError(WampUri.invalidArgument, 'reason must be a URI');
  if (message !== undefined && typeof message !== 'string') {
    throw new WampError(WampUri.invalidArgument, 'message must be a string');
  }
  return { reason, message };
}

function killWhere(realm: Realm, call: InternalCall, filter: (peer: Peer) => boolean): { args: unknown[] } {
  const { reason, message } = killOptions(call);
  const killed: number[] = [];
  for (const peer of [...realm.sessions.values()]) {
    if (peer !== call.caller && filter(peer)) {
      killed.push(peer.session);
      peer.kill(reason, message);
    }
  }
  return one(killed);
}

function lookupMatch(call: InternalCall) {
  const options = arg(call, 1);
  const match = parseMatch(isDict(options) ? options.match : undefined);
  if (!match) throw new WampError(WampUri.invalidArgument, 'match must be exact, prefix or wildcard');
  return match;
}

/** Installs the meta API procedures on `realm`. */
export function installMetaApi(realm: Realm): void {
  const procedures: Record<string, InternalProcedure> = {
    // ---- sessions
    'wamp.session.count': (call) => {
      const filter = rolesFilter(call);
      let n = 0;
      for (const peer of realm.sessions.values()) if (!filter || filter(peer)) n++;
      return one(n);
    },
    'wamp.session.list': (call) => {
      const filter = rolesFilter(call);
      return one([...realm.sessions.values()].filter((p) => !filter || filter(p)).map((p) => p.session));
    },
    'wamp.session.get': (call) => {
      const peer = realm.sessions.get(idArg(call, 0, 'session'));
      if (!peer) throw new WampError(WampUri.noSuchSession);
      return one(peer.details());
    },
    'wamp.session.kill': (call) => {
      const id = idArg(call, 0, 'session');
      const peer = realm.sessions.get(id);
      if (!peer) throw new WampError(WampUri.noSuchSession);
      if (peer === call.caller) throw new WampError(WampUri.invalidArgument, 'a session cannot kill itself');
      const { reason, message } = killOptions(call);
      peer.kill(reason, message);
      return undefined;
    },
    'wamp.session.kill_by_authid': (call) => {
      const authid = stringArg(call, 0, 'authid');
      return killWhere(realm, call, (p) => p.authid === authid);
    },
    'wamp.session.kill_by_authrole': (call) => {
      const authrole = stringArg(call, 0, 'authrole');
      return killWhere(realm, call, (p) => p.authrole === authrole);
    },
    'wamp.session.kill_all': (call) => one(killWhere(realm, call, () => true).args[0]),
    'wamp.session.add_testament': (call) => {
      const topic = stringArg(call, 0, 'topic');
      const args = arg(call, 1) ?? [];
      const kwargs = arg(call, 2) ?? {};
      if (!Array.isArray(args) || !isDict(kwargs)) {
        throw new WampError(WampUri.invalidArgument, 'add_testament takes [topic, args, kwargs]');
      }
      const publishOptions = call.kwargs?.publish_options ?? {};
      if (!isDict(publishOptions))
        throw new WampError(WampUri.invalidArgument, 'publish_options must be a dict');
      realm.addTestament(call.caller, topic, publishOptions, { args, kwargs: kwargs as Dict });
      return undefined;
    },
    'wamp.session.flush_testaments': (call) => one(realm.flushTestaments(call.caller)),

    // ---- subscriptions
    'wamp.subscription.list': () => one(realm.broker.list()),
    'wamp.subscription.lookup': (call) =>
      one(realm.broker.lookup(stringArg(call, 0, 'topic'), lookupMatch(call))?.id ?? null),
    'wamp.subscription.match': (call) => {
      const found = realm.broker.matching(stringArg(call, 0, 'topic')).map((s) => s.id);
      return one(found.length > 0 ? found : null);
    },
    'wamp.subscription.get': (call) => {
      const subscription = realm.broker.get(idArg(call, 0, 'subscription'));
      if (!subscription) throw new WampError(WampUri.noSuchSubscription);
      return one(subscription.info());
    },
    'wamp.subscription.list_subscribers': (call) => {
      const subscription = realm.broker.get(idArg(call, 0, 'subscription'));
      if (!subscription) throw new WampError(WampUri.noSuchSubscription);
      return one([...subscription.subscribers].map((p) => p.session));
    },
    'wamp.subscription.count_subscribers': (call) => {
      const subscription = realm.broker.get(idArg(call, 0, 'subscription'));
      if (!subscription) throw new WampError(WampUri.noSuchSubscription);
      return one(subscription.subscribers.size);
    },

    // ---- registrations
    'wamp.registration.list': () => one(realm.dealer.list()),
    'wamp.registration.lookup': (call) =>
      one(realm.dealer.lookup(stringArg(call, 0, 'procedure'), lookupMatch(call))?.id ?? null),
    'wamp.registration.match': (call) =>
      one(realm.dealer.resolve(stringArg(call, 0, 'procedure'))?.id ?? null),
    'wamp.registration.get': (call) => {
      const registration = realm.dealer.get(idArg(call, 0, 'registration'));
      if (!registration) throw new WampError(WampUri.noSuchRegistration);
      return one(registration.info());
    },
    'wamp.registration.list_callees': (call) => {
      const registration = realm.dealer.get(idArg(call, 0, 'registration'));
      if (!registration) throw new WampError(WampUri.noSuchRegistration);
      return one(registration.calleeIds());
    },
    'wamp.registration.count_callees': (call) => {
      const registration = realm.dealer.get(idArg(call, 0, 'registration'));
      if (!registration) throw new WampError(WampUri.noSuchRegistration);
      return one(registration.callees.length);
    },
  };
  for (const [uri, handler] of Object.entries(procedures)) realm.addBuiltin(uri, handler);
}
