/**
 * A toy protocol adapter (tests only): JSON lines over WebSocket. It lives entirely in this folder and reaches the
 * configuration, the CLI, the metrics and the server through adapters/protocol-adapter.ts, with no edit anywhere
 * else — the proof that adding a protocol is a folder (plus, for a built-in one, its line in adapters/builtin.ts).
 */
import { defineAdapter, type Protocol, type ProtocolAdapter } from '../../../adapters/protocol-adapter.js';
import { jsonlConfig, jsonlOptionsOf } from './config.js';
import { type JsonlOptions, JsonlProtocol } from './jsonl-protocol.js';
import { jsonlClassifier } from './wire-classifier.js';

export type { JsonlOptions } from './jsonl-protocol.js';

/** The toy protocol, configured. */
export function jsonl(options: JsonlOptions = {}): Protocol {
  return {
    name: 'jsonl',
    classifier: () => jsonlClassifier,
    attach({ core, host, logger, accept }) {
      const protocol = new JsonlProtocol(core, options, logger);
      protocol.attach(host, accept);
      return protocol;
    },
  };
}

/** The toy adapter: section `jsonl`, flag `--jsonl-path`. */
export const jsonlAdapter: ProtocolAdapter<typeof jsonlConfig> = defineAdapter({
  name: 'jsonl',
  summary: 'JSON lines over WebSocket at /jsonl (a toy, for tests)',
  config: jsonlConfig,
  flags: [
    {
      key: 'jsonl.path',
      flag: '--jsonl-path <path>',
      description: 'WebSocket path of the JSON-lines endpoint',
    },
  ],
  fromConfig: (config, shared) => jsonl(jsonlOptionsOf(config, shared)),
});
