/**
 * Mocha entry of the WAMP conformance suite (`npm test`, conformance/fixtures/mocha-suite.ts): starts pgrt's fixture
 * server (`fixtures/server.ts`: DDP and WAMP on port 0, the fixture app, a ticket realm, a WAMP-CRA realm, a closed
 * realm and a denied topic), probes its WELCOME features, and runs every case × serializer through the same
 * {@link executeCase} as the CLI. Cases needing a feature the router does not announce skip themselves with that
 * reason.
 */
import { describeConformance } from '../fixtures/mocha-suite.js';
import {
  DEFAULT_CASE_TIMEOUT_MS,
  DEFAULT_WAIT_MS,
  expandRuns,
  levelOf,
  type RouterInfo,
  type SuiteOptions,
  skipReason,
} from './case.js';
import { allCases } from './cases/index.js';
import { executeCase, probeRouter } from './runner.js';
import { SERIALIZERS } from './serializers.js';

/** The suite's options and what the router announced. */
interface Target {
  readonly options: SuiteOptions;
  readonly router: RouterInfo;
}

describeConformance<Target>({
  name: 'WAMP conformance (pgrt fixture server)',
  async start() {
    const { startFixtureServer, DENIED_PREFIX, TICKET, CRA, CLOSED_REALM } = await import(
      './fixtures/server.js'
    );
    const server = await startFixtureServer();
    const options: SuiteOptions = {
      url: server.url,
      rawSocket: server.rawSocket,
      realm: 'realm1',
      serializers: SERIALIZERS,
      pgrt: true,
      waitMs: DEFAULT_WAIT_MS,
      caseTimeoutMs: DEFAULT_CASE_TIMEOUT_MS,
      uriCheck: 'strict',
      autoRealms: false,
      deniedTopic: `${DENIED_PREFIX}.t`,
      ticket: TICKET,
      cra: CRA,
      closedRealm: CLOSED_REALM,
    };
    return { options: { options, router: await probeRouter(options) }, close: () => server.close() };
  },
  runs: expandRuns(allCases, SERIALIZERS).map((run) => ({
    title: `${run.id} [${levelOf(run.case)}] ${run.case.title}`,
    ...(typeof run.case.skip === 'string' ? { skip: run.case.skip } : {}),
    skipReason: ({ options, router }) => skipReason(run.case, options, router),
    timeoutMs: ({ options }) => run.case.timeoutMs ?? options.caseTimeoutMs,
    execute: ({ options, router }) => executeCase(run, options, router),
  })),
  report: (wallMs) => [`WAMP conformance: ${(wallMs / 1000).toFixed(2)} s wall time`],
});
