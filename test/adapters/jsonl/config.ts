/**
 * The toy JSON-lines adapter's configuration: section `jsonl` (zod, with defaults), merged into the server's
 * configuration by the registry like any built-in adapter's.
 */
import { z } from 'zod';
import type { SectionValues, SharedConfig } from '../../../adapters/protocol-adapter.js';
import type { JsonlOptions } from './jsonl-protocol.js';

/** Section `jsonl`. */
export const jsonlSection = z
  .object({
    path: z
      .string()
      .regex(/^\/[^?#]*$/, 'must start with /')
      .default('/jsonl')
      .describe('WebSocket path of the JSON-lines endpoint.'),
    maxLineBytes: z
      .number()
      .int()
      .min(16)
      .default(64 * 1024)
      .describe('Longer lines are answered with {"op":"error","reason":"line too long"}.'),
  })
  .default({ path: '/jsonl', maxLineBytes: 64 * 1024 })
  .describe('The toy JSON-lines protocol (tests only).');

/** The adapter's sections. */
export const jsonlConfig = { jsonl: jsonlSection } as const;

/** {@link JsonlOptions} from the effective configuration. */
export function jsonlOptionsOf(
  config: SectionValues<typeof jsonlConfig>,
  shared: SharedConfig,
): JsonlOptions {
  return { ...config.jsonl, forwardedCount: shared.forwardedCount };
}
