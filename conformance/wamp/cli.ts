/**
 * Command line for the WAMP router conformance suite:
 *
 *   tsx conformance/wamp/cli.ts <ws-url> [--realm r] [--serializer s]… [--group g]… [--case id]… [--pgrt] [--bail]
 *                               [--strict] …
 *
 * Exit code 0 when no MUST case failed (with --strict: no case at all), 1 otherwise (or when the router could not
 * be probed), 2 on bad usage.
 */
import { parseArgs } from 'node:util';
import { runMain, type UsageChecks, usageChecks } from '../support/cli-core.js';
import {
  type CraAuth,
  DEFAULT_CASE_TIMEOUT_MS,
  DEFAULT_WAIT_MS,
  expandRuns,
  type SuiteOptions,
  type TicketAuth,
} from './case.js';
import { allCases } from './cases/index.js';
import type { RawSocketAddress } from './rawsocket-client.js';
import { probeRouter, runCases, selectCases, summaryFailed } from './runner.js';
import { isSerializerName, SERIALIZERS, type SerializerName } from './serializers.js';

const USAGE = `usage: tsx conformance/wamp/cli.ts <ws-url> [options]

  <ws-url>                  the router's WebSocket endpoint, e.g. ws://127.0.0.1:8080/ws
  --realm <r>               realm to join (default realm1)
  --serializer <s>          json, msgpack or cbor (repeatable; default all three)
  --group <g>               run only this group (repeatable): transport, session, violations, uri, broker,
                            dealer, advanced, meta, compat, secure, pgrt
  --case <id>               run only this case (repeatable): broker.47, or one run: broker.47@msgpack
  --pgrt                    the router is pgrt serving conformance/wamp/fixtures (runs the pgrt group)
  --uri-check <mode>        loose (default: the spec's MUST rules, Crossbar's effective default) or strict
                            (lower-case components only): what the router enforces (case uri.43)
  --auto-realms             the router creates unknown realms (skips session.16)
  --denied-topic <uri>      a topic anonymous sessions may not publish or subscribe (broker.51, broker.52)
  --ticket <realm:authid:ticket>   a ticket-auth realm (session.20-22, 24)
  --cra <realm:authid:secret>      a WAMP-CRA realm (session.23)
  --closed-realm <r>        a realm granting anonymous sessions nothing (meta API, patterns, disclosure):
                            runs the secure group
  --rawsocket <host:port>   the router's RawSocket listener (transport.08-13; skipped without)
  --wait-ms <n>             wait for each expected message (default ${DEFAULT_WAIT_MS})
  --case-timeout-ms <n>     whole-case timeout (default ${DEFAULT_CASE_TIMEOUT_MS})
  --bail                    stop at the first failure
  --strict                  count failures of every level (should, practice, pgrt), not only MUST
`;

const check: UsageChecks = usageChecks(USAGE);

function triple(value: string | undefined, name: string): [string, string, string] | undefined {
  if (value === undefined) return undefined;
  const parts = value.split(':');
  const [a, b, ...rest] = parts;
  if (a === undefined || b === undefined || rest.length === 0)
    check.fail(`${name} must be realm:authid:secret`);
  return [a, b, rest.join(':')];
}

function hostPort(value: string | undefined): RawSocketAddress | undefined {
  if (value === undefined) return undefined;
  const at = value.lastIndexOf(':');
  const port = Number(value.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port) || port <= 0 || port > 65_535)
    check.fail(`--rawsocket must be host:port, got "${value}"`);
  return { host: value.slice(0, at), port };
}

function parse() {
  return parseArgs({
    allowPositionals: true,
    options: {
      realm: { type: 'string' },
      serializer: { type: 'string', multiple: true },
      group: { type: 'string', multiple: true },
      case: { type: 'string', multiple: true },
      pgrt: { type: 'boolean' },
      'uri-check': { type: 'string' },
      'auto-realms': { type: 'boolean' },
      'denied-topic': { type: 'string' },
      ticket: { type: 'string' },
      cra: { type: 'string' },
      'closed-realm': { type: 'string' },
      rawsocket: { type: 'string' },
      'wait-ms': { type: 'string' },
      'case-timeout-ms': { type: 'string' },
      bail: { type: 'boolean' },
      strict: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

async function main(): Promise<void> {
  const { values, positionals } = check.orFail(parse);
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const url = check.wsUrl(positionals);
  const serializers: SerializerName[] = [];
  for (const name of values.serializer ?? SERIALIZERS) {
    if (!isSerializerName(name)) check.fail(`unknown serializer "${name}" (json, msgpack, cbor)`);
    if (!serializers.includes(name)) serializers.push(name);
  }
  const uriCheck = values['uri-check'] ?? 'loose';
  if (uriCheck !== 'strict' && uriCheck !== 'loose')
    check.fail(`--uri-check must be strict or loose, got "${uriCheck}"`);
  const ticket = triple(values.ticket, '--ticket');
  const cra = triple(values.cra, '--cra');
  const rawSocket = hostPort(values.rawsocket);
  const options: SuiteOptions = {
    url,
    realm: values.realm ?? 'realm1',
    serializers,
    pgrt: values.pgrt ?? false,
    waitMs: check.positiveInt(values['wait-ms'], '--wait-ms', DEFAULT_WAIT_MS),
    caseTimeoutMs: check.positiveInt(values['case-timeout-ms'], '--case-timeout-ms', DEFAULT_CASE_TIMEOUT_MS),
    uriCheck,
    autoRealms: values['auto-realms'] ?? false,
    ...(values['denied-topic'] ? { deniedTopic: values['denied-topic'] } : {}),
    ...(ticket
      ? { ticket: { realm: ticket[0], authid: ticket[1], ticket: ticket[2] } satisfies TicketAuth }
      : {}),
    ...(cra ? { cra: { realm: cra[0], authid: cra[1], secret: cra[2] } satisfies CraAuth } : {}),
    ...(rawSocket ? { rawSocket } : {}),
    ...(values['closed-realm'] ? { closedRealm: values['closed-realm'] } : {}),
  };
  const ids = values.case ?? [];
  let runs = check.orFail(() =>
    expandRuns(selectCases(allCases, { groups: values.group ?? [], ids }), serializers),
  );
  // `--case broker.47@msgpack` selects one run; `--case broker.47` every serializer's.
  const exact = ids.filter((id) => id.includes('@'));
  if (exact.length > 0) {
    const whole = ids.filter((id) => !id.includes('@'));
    runs = runs.filter(
      (run) =>
        exact.includes(run.id) ||
        whole.includes(run.case.id) ||
        (values.group ?? []).includes(run.case.group),
    );
  }
  process.stdout.write(
    `WAMP conformance against ${url} (realm ${options.realm}; ${serializers.join(', ')})\n`,
  );
  let router: Awaited<ReturnType<typeof probeRouter>>;
  try {
    router = await probeRouter(options);
  } catch (error) {
    process.stderr.write(
      `cannot join ${options.realm} at ${url}: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exitCode = 1;
    return;
  }
  process.stdout.write(
    `router${router.agent ? ` ${router.agent}` : ''} announces: ${[...router.features].sort().join(', ') || '(no features)'}\n\n`,
  );
  const summary = await runCases(runs, options, router, {
    bail: values.bail ?? false,
    strict: values.strict ?? false,
  });
  process.exitCode = summaryFailed(summary) ? 1 : 0;
  // Done: exit once the report is flushed, even if a router keeps a half-closed socket of a failed case open
  // (fox-wamp does, and the process would wait for it forever).
  process.stdout.write('', () => process.exit());
}

runMain(main);
