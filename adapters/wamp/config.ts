/**
 * The WAMP adapter's configuration: section `wamp` (zod, merged into pgrt's configuration schema by
 * config/config-schema.ts), and how the effective values become {@link WampOptions}. Every key has a `PGRT_*`
 * variable (`wamp.realm` → `PGRT_WAMP_REALM`).
 */
import { z } from 'zod';
import type { SectionValues, SharedConfig } from '../protocol-adapter.js';
import type { WampOptions } from './wamp-protocol.js';

const positiveInt = () => z.number().int().min(1);
const roles = () => z.array(z.string().min(1)).default([]);

/** Section `wamp`. */
export const wampSection = z
  .object({
    path: z
      .string()
      .regex(/^\//, 'must start with /')
      .default('/ws')
      .describe('WebSocket path of the router.'),
    realm: z.string().min(1).default('realm1').describe('The realm clients join.'),
    maxMessageBytes: positiveInt()
      .default(1024 * 1024)
      .describe('Larger incoming messages abort the session with protocol_violation.'),
    rawSocketPort: z
      .number()
      .int()
      .min(0)
      .max(65_535)
      .optional()
      .describe(
        'Also serve WAMP RawSocket on this TCP port (bound to host; 0 picks a free one); absent: no RawSocket.',
      ),
    rawSocketPath: z
      .string()
      .min(1)
      .optional()
      .describe('Also serve WAMP RawSocket on this Unix socket path (instead of rawSocketPort).'),
    metaApiRoles: roles().describe(
      'Roles that may call the WAMP meta API (wamp.session.* list/get/kill, wamp.subscription.*, wamp.registration.*) and receive its events; empty: nobody. `pgrt serve` sessions are anonymous: ["anonymous"] opens it to everyone.',
    ),
    patternRegistrationRoles: roles().describe(
      'Roles that may register prefix/wildcard procedures (never under wamp. or pgrt.); empty: nobody.',
    ),
    disclosureRoles: roles().describe(
      "Roles whose identity (session, authid, authrole) callees and subscribers see when a call or publication asks (disclose_me, disclose_caller); empty: nobody's.",
    ),
    maxTestaments: positiveInt()
      .default(16)
      .describe('Testaments (wamp.session.add_testament) a session may hold at once; one more is refused.'),
    maxRetainedBytes: positiveInt()
      .default(16 * 1024 * 1024)
      .describe(
        'Bytes the realm keeps of retained events in all (publish with retain); the oldest topics are dropped first, a larger event is not retained.',
      ),
  })
  .default({
    path: '/ws',
    realm: 'realm1',
    maxMessageBytes: 1024 * 1024,
    metaApiRoles: [],
    patternRegistrationRoles: [],
    disclosureRoles: [],
    maxTestaments: 16,
    maxRetainedBytes: 16 * 1024 * 1024,
  })
  .describe('The WAMP v2 router (used when protocols includes "wamp").');

/** The WAMP adapter's sections. */
export const wampConfig = { wamp: wampSection } as const;

/** {@link WampOptions} for the effective configuration: one realm with its grants, RawSocket. */
export function wampOptionsOf(config: SectionValues<typeof wampConfig>, shared: SharedConfig): WampOptions {
  const { wamp } = config;
  const { metaApiRoles, patternRegistrationRoles, disclosureRoles, maxTestaments, maxRetainedBytes } = wamp;
  return {
    path: wamp.path,
    realms: [
      {
        name: wamp.realm,
        metaApiRoles,
        patternRegistrationRoles,
        disclosureRoles,
        maxTestaments,
        maxRetainedBytes,
      },
    ],
    maxMessageBytes: wamp.maxMessageBytes,
    forwardedCount: shared.forwardedCount,
    ...rawSocketOf(config, shared),
  };
}

/** The WAMP RawSocket listener the config asks for: a Unix socket path, else a TCP port on `host`, else none. */
function rawSocketOf(
  config: SectionValues<typeof wampConfig>,
  shared: SharedConfig,
): Pick<WampOptions, 'rawSocket'> {
  const { rawSocketPath: path, rawSocketPort: port } = config.wamp;
  if (path !== undefined) return { rawSocket: { path } };
  if (port !== undefined) return { rawSocket: { port, host: shared.host } };
  return {};
}
