/**
 * Authorization: may this session do `action` on `uri`? Crossbar-style static permissions per role
 * (reference/wamp.md §2.1): each rule is a URI pattern (`exact`, `prefix` or `wildcard`; a trailing `*` in `uri`
 * means prefix) with the actions it allows. When several rules match, the longest pattern wins; on equal length
 * exact beats wildcard beats prefix. A role with rules but no matching rule is denied; a role missing from the
 * table is denied unless `defaultAllow` is set.
 *
 * The router applies its own fixed rules before any authorizer (see realm.ts): a session's private topic
 * `pgrt.session.<id>` may only be subscribed by that session, and no client may publish under `pgrt.`.
 */
import type { Dict } from './messages.js';
import { compareWildcards, type MatchPolicy, wildcardMatches } from './uri.js';

/** What a session wants to do. */
export type Action = 'call' | 'register' | 'publish' | 'subscribe';

/** Who asks. */
export interface SessionIdentity {
  readonly session: number;
  readonly authid: string;
  readonly authrole: string;
  readonly authmethod: string;
  readonly authprovider: string;
}

/**
 * Decides every call, register, publish and subscribe. Synchronous on purpose: routing order (events per
 * publisher, invocations per caller) must not depend on how long a decision takes. A dynamic authorizer keeps its
 * own cache.
 */
export interface Authorizer {
  authorize(session: SessionIdentity, uri: string, action: Action, options: Dict): boolean;
}

/** One permission rule of a role. */
export interface Permission {
  /** The URI pattern; a trailing `*` means prefix when `match` is not given. */
  readonly uri: string;
  readonly match?: MatchPolicy;
  /** The actions this rule allows (absent: denied). */
  readonly allow: Partial<Readonly<Record<Action, boolean>>>;
}

/** Allows everything to everyone (the default). */
export const allowAll: Authorizer = { authorize: () => true };

interface CompiledRule {
  readonly pattern: string;
  readonly components: readonly string[];
  readonly match: MatchPolicy;
  readonly allow: Partial<Readonly<Record<Action, boolean>>>;
}

const MATCH_RANK: Readonly<Record<MatchPolicy, number>> = { exact: 0, wildcard: 1, prefix: 2 };

function compile(permission: Permission): CompiledRule {
  let { uri } = permission;
  let match = permission.match;
  if (match === undefined) {
    if (uri.endsWith('*')) {
      uri = uri.slice(0, -1);
      match = 'prefix';
    } else {
      match = 'exact';
    }
  }
  return { pattern: uri, components: uri.split('.'), match, allow: permission.allow };
}

function ruleMatches(rule: CompiledRule, uri: string, components: readonly string[]): boolean {
  switch (rule.match) {
    case 'exact':
      return rule.pattern === uri;
    case 'prefix':
      return uri.startsWith(rule.pattern);
    case 'wildcard':
      return wildcardMatches(rule.components, components);
  }
}

/** Orders rules best first: longest pattern, then exact > wildcard > prefix, then concrete-first wildcards. */
function compareRules(a: CompiledRule, b: CompiledRule): number {
  if (a.pattern.length !== b.pattern.length) return b.pattern.length - a.pattern.length;
  if (a.match !== b.match) return MATCH_RANK[a.match] - MATCH_RANK[b.match];
  return a.match === 'wildcard' ? compareWildcards(a.components, b.components) : 0;
}

/** Options of {@link staticAuthorizer}. */
export interface StaticAuthorizerOptions {
  /** Allow everything to roles missing from the table (default false). */
  readonly defaultAllow?: boolean;
}

/** Crossbar-style static permissions: role name → rules. */
export function staticAuthorizer(
  roles: Readonly<Record<string, readonly Permission[]>>,
  options: StaticAuthorizerOptions = {},
): Authorizer {
  const table = new Map<string, CompiledRule[]>();
  for (const [role, permissions] of Object.entries(roles)) {
    table.set(role, permissions.map(compile).sort(compareRules));
  }
  return {
    authorize(session, uri, action) {
      const rules = table.get(session.authrole);
      if (!rules) return options.defaultAllow === true;
      const components = uri.split('.');
      const rule = rules.find((r) => ruleMatches(r, uri, components));
      return rule?.allow[action] === true;
    },
  };
}
