/**
 * The DDP adapter's public face: the `ddp()` factory for `createServer({ protocols })`, its options, and the
 * {@link ddpAdapter} definition the configuration layer and the CLI use (adapters/builtin.ts lists it).
 */
import {
  defineAdapter,
  type Protocol,
  type ProtocolAdapter,
  type ProtocolHandle,
} from '../protocol-adapter.js';
import { ddpConfig, ddpOptionsOf } from './config.js';
import { type DdpOptions, DdpProtocol } from './ddp-protocol.js';
import { ddpClassifier } from './wire-classifier.js';

export type { DdpOptions, DdpSockJsOptions } from './ddp-protocol.js';
export type { ClientVersions, MeteorClient, MeteorClientOptions } from './meteor-client.js';

/** DDP attached to a server: the handle `server.protocols.get('ddp')` returns. */
export interface DdpHandle extends ProtocolHandle {
  /** The Meteor web client support, when `meteorClient` was given. */
  readonly meteorClient: DdpProtocol['meteorClient'];
  /** Open DDP connections. */
  readonly connectionCount: number;
  /** Sessions whose socket dropped, waiting for their client to resume them. */
  readonly parkedSessionCount: number;
}

/** DDP (Meteor's protocol) at `<pathPrefix>/websocket` and SockJS at `<pathPrefix>/sockjs`. */
export function ddp(options: DdpOptions = {}): Protocol {
  return {
    name: 'ddp',
    classifier: () => ddpClassifier,
    attach({ core, host, logger, accept }): DdpHandle {
      const protocol = new DdpProtocol(core, options, logger);
      protocol.attach(host, accept);
      return protocol;
    },
  };
}

/** The DDP adapter: sections `ddp` and `meteorClient`, served when no protocols are configured. */
export const ddpAdapter: ProtocolAdapter<typeof ddpConfig> = defineAdapter({
  name: 'ddp',
  summary: 'DDP (Meteor clients) at <prefix>/websocket and <prefix>/sockjs',
  config: ddpConfig,
  enabledByDefault: true,
  fromConfig: (config, shared) => ddp(ddpOptionsOf(config, shared)),
});
