/**
 * Mocha entry of the WAMP conformance suite (`npm test`): starts pgrt's fixture server (`fixtures/server.ts`: DDP
 * and WAMP on port 0, the fixture app, a ticket realm, a WAMP-CRA realm, a closed realm and a denied topic), probes
 * its WELCOME
 * features, and registers one `it` per case × serializer, run through the same {@link executeCase} as the CLI.
 * Always-skipped cases appear as pending with their reason in the title; cases needing a feature the router does
 * not announce skip themselves with that reason.
 */
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

describe('WAMP conformance (pgrt fixture server)', () => {
  let options: SuiteOptions | undefined;
  let router: RouterInfo | undefined;
  let close: (() => Promise<void>) | undefined;
  let started = 0;

  before(async function () {
    this.timeout(60000);
    const { startFixtureServer, DENIED_PREFIX, TICKET, CRA, CLOSED_REALM } = await import(
      './fixtures/server.js'
    );
    const server = await startFixtureServer();
    close = () => server.close();
    options = {
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
    router = await probeRouter(options);
    started = performance.now();
  });

  after(async function () {
    this.timeout(30000);
    const wallMs = performance.now() - started;
    await close?.();
    if (started > 0)
      process.stdout.write(`\n  WAMP conformance: ${(wallMs / 1000).toFixed(2)} s wall time\n`);
  });

  for (const run of expandRuns(allCases, SERIALIZERS)) {
    // Every level must pass against pgrt (the CLI's --strict); the level is in the title.
    const title = `${run.id} [${levelOf(run.case)}] ${run.case.title}`;
    if (typeof run.case.skip === 'string') {
      it.skip(`${title} (skipped: ${run.case.skip})`);
      continue;
    }
    it(title, async function () {
      if (!options || !router) throw new Error('the fixture server did not start');
      const reason = skipReason(run.case, options, router);
      if (reason !== undefined) {
        if (this.test) this.test.title = `${title} (skipped: ${reason})`;
        this.skip();
      }
      this.timeout((run.case.timeoutMs ?? options.caseTimeoutMs) + 5000);
      const result = await executeCase(run, options, router);
      if (result.status === 'failed') throw result.error;
    });
  }
});
