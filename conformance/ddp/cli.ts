/**
 * Command line for the DDP conformance suite (`npm run conformance -- <ws-url> …`):
 *
 *   tsx conformance/ddp/cli.ts <ws-url> [--group g]… [--case id]… [--heartbeat-ms n] [--slow] [--wait-ms n] [--bail]
 *                              [--sockjs-heartbeat-ms n] [--no-sockjs-welcome] [--strict]
 *
 * Exit code 0 when no MUST case failed (with --strict: no case at all), 1 otherwise, 2 on bad usage.
 */
import { parseArgs } from 'node:util';
import { runMain, type UsageChecks, usageChecks } from '../support/cli-core.js';
import type { SuiteOptions } from './case.js';
import { allCases } from './cases/index.js';
import { runCases, selectCases, summaryFailed } from './runner.js';

const USAGE = `usage: tsx conformance/ddp/cli.ts <ws-url> [options]

  <ws-url>            raw DDP WebSocket endpoint, e.g. ws://127.0.0.1:3000/websocket
  --group <g>         run only this group (repeatable): sockjs, transport, handshake, malformed, heartbeat,
                      methods, ejson, random, subscriptions, ddptest, ddptest-sockjs
                      (accounts, resumption: all skipped)
  --case <id>         run only this case (repeatable), e.g. handshake.10, ddptest.04
  --heartbeat-ms <n>  the server's heartbeat interval and timeout (default 15000, Meteor's)
  --slow              run the heartbeat-timing cases even when the heartbeat is long
  --wait-ms <n>       how long to wait for each expected message (default 3000)
  --bail              stop at the first failure
  --sockjs-heartbeat-ms <n>  the server's SockJS heartbeat delay (default 45000, Meteor's)
  --no-sockjs-welcome the server sends no {"server_id":"0"} on SockJS open (skips sockjs.08; SockJS
                      ddptest cases then speak first)
  --strict            count failures of every level (should, meteor, pgrt), not only MUST
`;

const check: UsageChecks = usageChecks(USAGE);

async function main(): Promise<void> {
  const { values, positionals } = check.orFail(parse);
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const url = check.wsUrl(positionals);
  const options: SuiteOptions = {
    url,
    heartbeatMs: check.positiveInt(values['heartbeat-ms'], '--heartbeat-ms', 15000),
    slow: values.slow ?? false,
    waitMs: check.positiveInt(values['wait-ms'], '--wait-ms', 3000),
    sockjsHeartbeatMs: check.positiveInt(values['sockjs-heartbeat-ms'], '--sockjs-heartbeat-ms', 45000),
    sockjsWelcome: !(values['no-sockjs-welcome'] ?? false),
  };
  const cases = check.orFail(() =>
    selectCases(allCases, { groups: values.group ?? [], ids: values.case ?? [] }),
  );
  process.stdout.write(`DDP conformance against ${url} (heartbeat ${options.heartbeatMs} ms)\n\n`);
  const summary = await runCases(cases, options, {
    bail: values.bail ?? false,
    strict: values.strict ?? false,
  });
  process.exitCode = summaryFailed(summary) ? 1 : 0;
}

function parse() {
  return parseArgs({
    allowPositionals: true,
    options: {
      group: { type: 'string', multiple: true },
      case: { type: 'string', multiple: true },
      'heartbeat-ms': { type: 'string' },
      'wait-ms': { type: 'string' },
      'sockjs-heartbeat-ms': { type: 'string' },
      'no-sockjs-welcome': { type: 'boolean' },
      slow: { type: 'boolean' },
      bail: { type: 'boolean' },
      strict: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

runMain(main);
