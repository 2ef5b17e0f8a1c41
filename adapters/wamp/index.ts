/**
 * The WAMP adapter's public face: the `wamp()` factory for `createServer({ protocols })`, its options, its
 * authenticators and authorizers, its error classes, and the {@link wampAdapter} definition the configuration
 * layer and the CLI use (adapters/builtin.ts lists it).
 */
import { defineAdapter, type Protocol, type ProtocolAdapter } from '../protocol-adapter.js';
import { type Authenticator, anonymousAuthenticator } from './authentication.js';
import { wampConfig, wampOptionsOf } from './config.js';
import { WampAuthenticatorsToken, type WampOptions, WampProtocol } from './wamp-protocol.js';
import { wampClassifier } from './wire-classifier.js';

export {
  ACCOUNTS_AUTHPROVIDER,
  accountsAuthenticators,
  CRA_CREDENTIAL,
  type CraKeyMaterial,
  deriveCraKey,
} from './accounts-authentication.js';
export {
  type AnonymousOptions,
  type Authenticator,
  type AuthIdentity,
  type AuthRequest,
  type AuthStart,
  anonymousAuthenticator,
  type CraLookup,
  type CraPrincipal,
  type Principal,
  type StaticUser,
  staticUsers,
  type TicketCheck,
  ticketAuthenticator,
  wampCraAuthenticator,
} from './authentication.js';
export {
  type Action as WampAction,
  type Authorization as WampAuthorization,
  type Authorizer as WampAuthorizer,
  allowAll,
  type Disclosure as WampDisclosure,
  type Permission as WampPermission,
  type SessionIdentity as WampSessionIdentity,
  staticAuthorizer,
} from './authorization.js';
export { AuthenticationError as WampAuthenticationError, WampError } from './errors.js';
export {
  WampAuthenticatorsToken,
  type WampOptions,
  type WampRawSocketOptions,
  type WampRealmOptions,
} from './wamp-protocol.js';

/**
 * WAMP v2 at `/ws`: a router for Autobahn|JS, Wampy and other WAMP clients, bridged to the core (methods are
 * procedures, publications via `pgrt.subscribe`; see adapters/wamp/README.md). Default realm `realm1`.
 */
export function wamp(options: WampOptions = {}): Protocol {
  return {
    name: 'wamp',
    classifier: wampClassifier,
    parts: [
      { token: WampAuthenticatorsToken, create: (): readonly Authenticator[] => [anonymousAuthenticator()] },
    ],
    attach({ core, host, logger, accept, resolve }) {
      const authenticators = resolve<readonly Authenticator[]>(WampAuthenticatorsToken);
      const protocol = new WampProtocol(core, options, logger, authenticators);
      protocol.attach(host, accept);
      return protocol;
    },
  };
}

/** The WAMP adapter: section `wamp`. */
export const wampAdapter: ProtocolAdapter<typeof wampConfig> = defineAdapter({
  name: 'wamp',
  summary: 'WAMP v2 router (Autobahn|JS, Wampy) at /ws, optionally RawSocket',
  config: wampConfig,
  fromConfig: (config, shared) => wamp(wampOptionsOf(config, shared)),
});
