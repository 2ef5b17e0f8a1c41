/**
 * The DDP adapter's configuration: section `ddp` and, for Meteor web clients, section `meteorClient` (zod, merged
 * into pgrt's configuration schema by config/config-schema.ts), and how the effective values become
 * {@link DdpOptions}. Every key has a `PGRT_*` variable (`ddp.heartbeatInterval` → `PGRT_DDP_HEARTBEAT_INTERVAL`).
 */
import { z } from 'zod';
import type { SectionValues, SharedConfig } from '../protocol-adapter.js';
import type { DdpOptions } from './ddp-protocol.js';

const ms = () => z.number().int().min(0);
const positiveInt = () => z.number().int().min(1);

/** Section `ddp`. */
export const ddpSection = z
  .object({
    heartbeatInterval: ms().default(15_000).describe('Server ping interval in ms; 0 disables heartbeats.'),
    heartbeatTimeout: ms().default(15_000).describe('Close a connection silent this many ms after a ping.'),
    maxMessageBytes: positiveInt()
      .default(1024 * 1024)
      .describe('Larger messages are refused with error "Message too large".'),
    pathPrefix: z
      .string()
      .regex(/^(\/[^/?#]+)*$/, 'must be empty or start with / and not end with /')
      .optional()
      .describe("Path prefix (Meteor's ROOT_URL_PATH_PREFIX); default: the path of rootUrl."),
    sockjs: z
      .boolean()
      .default(true)
      .describe('Also serve SockJS at <prefix>/sockjs (what Meteor browsers use).'),
    sockjsWelcomeFrame: z
      .boolean()
      .default(false)
      .describe(
        'Send the legacy welcome frame {"server_id":"0"} when a SockJS session opens (Meteor before 2.3 did; the original ddptest waits for it).',
      ),
    disconnectGracePeriod: ms()
      .default(15_000)
      .describe('Session resumption: ms a dropped session waits for its client; 0 disables resumption.'),
    maxMessageQueueLength: positiveInt()
      .default(100)
      .describe('Session resumption: frames kept per session for replay.'),
    maxMessageQueueBytes: positiveInt()
      .default(1024 * 1024)
      .describe(
        'Session resumption: bytes of frames kept per session for replay; a dropped session needing more ends.',
      ),
    handOffSessions: z
      .boolean()
      .default(true)
      .describe(
        'Session resumption across processes: at shutdown live sessions are written to the database, and a client coming back to another process resumes there with only the differences.',
      ),
    handOffGracePeriod: ms()
      .default(60_000)
      .describe(
        'Session resumption across processes: ms a handed-off session waits for its client on another process (a rolling deploy brings clients back later than a dropped connection does); 0 turns hand-off off.',
      ),
    coalesceMs: ms()
      .default(0)
      .describe(
        "Outbound coalescing window in ms: a session's frames are written together; 0 = until the end of the event-loop turn.",
      ),
  })
  .default({
    heartbeatInterval: 15_000,
    heartbeatTimeout: 15_000,
    maxMessageBytes: 1024 * 1024,
    sockjs: true,
    sockjsWelcomeFrame: false,
    disconnectGracePeriod: 15_000,
    maxMessageQueueLength: 100,
    maxMessageQueueBytes: 1024 * 1024,
    handOffSessions: true,
    handOffGracePeriod: 60_000,
    coalesceMs: 0,
  })
  .describe('The DDP adapter (`/websocket`, `/sockjs`).');

/** Section `meteorClient` (a top-level key: Meteor web clients are a DDP feature). */
export const meteorClientSection = z
  .object({
    staticDir: z.string().min(1).optional().describe('A built Meteor web client to serve.'),
  })
  .optional()
  .describe("Meteor web clients: the stock publications and, with staticDir, the client's files.");

/** The DDP adapter's sections. */
export const ddpConfig = { ddp: ddpSection, meteorClient: meteorClientSection } as const;

/** DDP's path prefix: `ddp.pathPrefix`, else the path of `rootUrl` (Meteor derives ROOT_URL_PATH_PREFIX so). */
export function ddpPathPrefix(config: SectionValues<typeof ddpConfig>, shared: SharedConfig): string {
  if (config.ddp.pathPrefix !== undefined) return config.ddp.pathPrefix;
  if (!shared.rootUrl) return '';
  return new URL(shared.rootUrl).pathname.replace(/\/+$/, '');
}

/** {@link DdpOptions} for the effective configuration. */
export function ddpOptionsOf(config: SectionValues<typeof ddpConfig>, shared: SharedConfig): DdpOptions {
  const { ddp, meteorClient } = config;
  const pathPrefix = ddpPathPrefix(config, shared);
  return {
    heartbeatInterval: ddp.heartbeatInterval,
    heartbeatTimeout: ddp.heartbeatTimeout,
    maxMessageBytes: ddp.maxMessageBytes,
    pathPrefix,
    forwardedCount: shared.forwardedCount,
    disconnectGracePeriod: ddp.disconnectGracePeriod,
    maxMessageQueueLength: ddp.maxMessageQueueLength,
    maxMessageQueueBytes: ddp.maxMessageQueueBytes,
    handOffSessions: ddp.handOffSessions,
    handOffGracePeriod: ddp.handOffGracePeriod,
    coalesceMs: ddp.coalesceMs,
    ...(!ddp.sockjs
      ? { sockjs: false as const }
      : ddp.sockjsWelcomeFrame
        ? { sockjs: { welcomeFrame: true } }
        : {}),
    ...(meteorClient
      ? {
          meteorClient: {
            ...(meteorClient.staticDir ? { staticDir: meteorClient.staticDir } : {}),
            ...(shared.rootUrl ? { rootUrl: shared.rootUrl } : {}),
            pathPrefix,
          },
        }
      : {}),
  };
}
