/**
 * Authorization: may this session do `action` on `uri`, and may its identity be disclosed? Crossbar-style static
 * permissions per role (reference/wamp.md §2.1): each rule is a URI pattern (`exact`, `prefix` or `wildcard`; a
 * trailing `*` in `uri` means prefix) with the actions it allows and, as Crossbar's `disclose`, whether the
 * identity of a caller or publisher of that role may be disclosed. When several rules match, the longest pattern
 * wins; on equal length exact beats wildcard beats prefix. A role with rules but no matching rule is denied; a role
 * missing from the table is denied unless `defaultAllow` is set.
 *
 * The router applies its own fixed rules before any authorizer (access-policy.ts): the reserved namespaces
 * `wamp.` and `pgrt.`, the meta API, pattern registrations and disclosure are closed unless the realm grants
 * them to a role; an authorizer can only narrow those grants, never widen them.
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
 * An authorizer's answer in full (Crossbar's `{allow, disclose}`): `disclose` lets the router disclose the
 * identity of the caller (action `call`) or publisher (`publish`) when the call or publication asks for it.
 */
export interface Authorization {
  readonly allow: boolean;
  readonly disclose?: boolean;
}

/**
 * Decides every call, register, publish and subscribe. Synchronous on purpose: routing order (events per
 * publisher, invocations per caller) must not depend on how long a decision takes. A dynamic authorizer keeps its
 * own cache. A plain boolean means `{allow, disclose: false}`.
 */
export interface Authorizer {
  authorize(session: SessionIdentity, uri: string, action: Action, options: Dict): boolean | Authorization;
}

/** Whether the identity of a session of this role may be disclosed, per action (Crossbar's `disclose`). */
export interface Disclosure {
  /** As a caller, to callees (`INVOCATION.Details.caller*`). */
  readonly caller?: boolean;
  /** As a publisher, to subscribers (`EVENT.Details.publisher*`). */
  readonly publisher?: boolean;
}

/** One permission rule of a role. */
export interface Permission {
  /** The URI pattern; a trailing `*` means prefix when `match` is not given. */
  readonly uri: string;
  readonly match?: MatchPolicy;
  /** The actions this rule allows (absent: denied). */
  readonly allow: Partial<Readonly<Record<Action, boolean>>>;
  /** Whether callers / publishers of this role may have their identity disclosed on these URIs (default no). */
  readonly disclose?: Disclosure;
}

/**
 * Allows every action outside the router's fixed rules to everyone, discloses nobody (the default). The fixed
 * rules (access-policy.ts) still close the meta API, pattern registrations and the reserved namespaces.
 */
export const allowAll: Authorizer = { authorize: () => true };

const ALLOWED: Required<Authorization> = Object.freeze({ allow: true, disclose: false });
const DENIED: Required<Authorization> = Object.freeze({ allow: false, disclose: false });

/** An authorizer's answer as `{allow, disclose}` (a boolean never discloses; nothing is disclosed when denied). */
export function normalizeAuthorization(answer: boolean | Authorization): Required<Authorization> {
  if (typeof answer === 'boolean') return answer ? ALLOWED : DENIED;
  if (answer.allow !== true) return DENIED;
  return answer.disclose === true ? { allow: true, disclose: true } : ALLOWED;
}

interface CompiledRule {
  readonly pattern: string;
  readonly components: readonly string[];
  readonly match: MatchPolicy;
  readonly allow: Partial<Readonly<Record<Action, boolean>>>;
  readonly disclose: Disclosure;
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
  return {
    pattern: uri,
    components: uri.split('.'),
    match,
    allow: permission.allow,
    disclose: permission.disclose ?? {},
  };
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
    authorize(session, uri, action): Authorization {
      const rules = table.get(session.authrole);
      if (!rules) return { allow: options.defaultAllow === true };
      const components = uri.split('.');
      const rule = rules.find((r) => ruleMatches(r, uri, components));
      if (rule?.allow[action] !== true) return { allow: false };
      const disclose =
        (action === 'call' && rule.disclose.caller === true) ||
        (action === 'publish' && rule.disclose.publisher === true);
      return { allow: true, disclose };
    },
  };
}
