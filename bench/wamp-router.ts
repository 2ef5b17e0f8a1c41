/**
 * The WAMP router's own work per message, in process: no sockets, no database, no client. A realm of
 * adapters/wamp handles parsed messages from in-memory peers whose `send` only counts, so the figures are the
 * CPU time of validation, the access policy, routing and (for events) JSON encoding, measured with
 * `process.cpuUsage` (robust to a shared machine's preemption, unlike wall time):
 * - `call_ns`: a routed CALL → INVOCATION, then YIELD → RESULT;
 * - `publish_200_ns`: a PUBLISH delivered to 200 subscribers of one topic (one encoding, 200 sends);
 * - `private_event_ns`: a core-bridge event on a session's private topic `pgrt.session.<id>` (one subscriber).
 *
 * With `BENCH_BASELINE_DIR` naming another checkout of pgrt (e.g. a worktree of main), the same cases run
 * against its adapters/wamp too, interleaved round by round in this process, and `ratio_*` = this tree ÷ the
 * baseline (> 1: this tree costs more). Medians of `BENCH_ROUNDS` rounds (default 9); with `--expose-gc` each
 * measurement starts after a full GC.
 *
 * Usage: [BENCH_BASELINE_DIR=/path/to/other/checkout] node --expose-gc --import tsx bench/wamp-router.ts
 */
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type * as IdsModule from '../adapters/wamp/ids.js';
import type { RouterMessage } from '../adapters/wamp/messages.js';
import type { Peer } from '../adapters/wamp/peer.js';
import type * as RealmModule from '../adapters/wamp/realm.js';
import type * as SerializersModule from '../adapters/wamp/serializers.js';
import { silentLogger } from '../core/logger.js';
import { progress, report } from './support/measure.js';

const SCENARIO = 'wamp_router';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9);
const CALLS = 100_000;
const PUBLISHES = 4000;
const PRIVATE_EVENTS = 100_000;
const SUBSCRIBERS = 200;

/** The modules of one checkout's router. */
interface Router {
  readonly label: string;
  readonly realm: typeof RealmModule;
  readonly ids: typeof IdsModule;
  readonly serializers: typeof SerializersModule;
}

async function loadRouter(label: string, root: string): Promise<Router> {
  const from = (file: string) => import(pathToFileURL(join(root, 'adapters/wamp', file)).href);
  return {
    label,
    realm: (await from('realm.ts')) as typeof RealmModule,
    ids: (await from('ids.ts')) as typeof IdsModule,
    serializers: (await from('serializers.ts')) as typeof SerializersModule,
  };
}

/** A session whose transport only counts and keeps the last message. */
class BenchPeer implements Peer {
  readonly realm = 'realm1';
  readonly authid: string;
  readonly authrole = 'anonymous';
  readonly authmethod = 'anonymous';
  readonly authprovider = 'static';
  readonly settlesCancelLocally = false;
  readonly remoteAddress = '127.0.0.1';
  readonly headers = {};
  received = 0;
  last: RouterMessage | undefined;
  #invocations = 0;
  #request = 0;

  constructor(
    readonly session: number,
    readonly serializer: Peer['serializer'],
  ) {
    this.authid = String(session);
  }

  supports(): boolean {
    return false;
  }
  send(message: RouterMessage): void {
    this.received++;
    this.last = message;
  }
  sendEncoded(): void {
    this.received++;
  }
  nextInvocationId(): number {
    return ++this.#invocations;
  }
  get lastInvocationId(): number {
    return this.#invocations;
  }
  details() {
    return { session: this.session };
  }
  kill(): void {}
  /** The next request id of this client. */
  request(): number {
    return ++this.#request;
  }
}

/** One router's cases, set up once; each `run*` does `n` operations. */
function setUp(router: Router) {
  // Not a literal at the call: a baseline checkout's settings may lack or name keys differently.
  const settings = {
    name: 'realm1',
    uriCheck: 'strict' as const,
    authenticators: [],
    authorizer: { authorize: () => true },
    grants: {
      metaApiRoles: new Set<string>(),
      patternRegistrationRoles: new Set<string>(),
      disclosureRoles: new Set<string>(),
    },
    skipSendsError: false,
    retention: { events: 10_000, bytes: 16 * 1024 * 1024 },
    // The same bound under its older name, for a baseline checkout from before the byte bound.
    maxRetained: 10_000,
    maxTestaments: 16,
  };
  const realm = new router.realm.Realm(settings, new router.ids.IdSequence(), silentLogger);
  const json = router.serializers.SERIALIZERS.json;
  let nextSession = 0;
  const peer = () => {
    const p = new BenchPeer(++nextSession, json);
    realm.join(p);
    return p;
  };
  const caller = peer();
  const callee = peer();
  realm.handle(callee, { type: 'REGISTER', request: callee.request(), options: {}, procedure: 'bench.echo' });
  const publisher = peer();
  const subscribers = Array.from({ length: SUBSCRIBERS }, peer);
  for (const s of subscribers)
    realm.handle(s, { type: 'SUBSCRIBE', request: s.request(), options: {}, topic: 'bench.topic' });
  const owner = peer();
  const privateTopic = `pgrt.session.${owner.session}`;
  realm.handle(owner, { type: 'SUBSCRIBE', request: owner.request(), options: {}, topic: privateTopic });
  const privateOptions = {
    acknowledge: false,
    excludeMe: false,
    discloseMe: false,
    retain: false,
    eligible: new Set([owner.session]),
  };
  const payload = { title: 'x'.repeat(150), n: 1 };
  return {
    runCalls(n: number): void {
      const before = caller.received;
      for (let i = 0; i < n; i++) {
        realm.handle(caller, {
          type: 'CALL',
          request: caller.request(),
          options: {},
          procedure: 'bench.echo',
          args: [i],
        });
        const invocation = callee.last as unknown[];
        realm.handle(callee, { type: 'YIELD', request: invocation[1] as number, options: {}, args: [i] });
      }
      if (caller.received - before !== n) throw new Error(`${router.label}: calls were not answered`);
    },
    runPublishes(n: number): void {
      for (let i = 0; i < n; i++) {
        realm.handle(publisher, {
          type: 'PUBLISH',
          request: publisher.request(),
          options: {},
          topic: 'bench.topic',
          args: [i],
          kwargs: payload,
        });
      }
    },
    runPrivateEvents(n: number): void {
      const before = owner.received;
      for (let i = 0; i < n; i++) {
        realm.publish(
          privateTopic,
          { kwargs: { msg: 'changed', collection: 'c', id: 'a', fields: { n: i } } },
          privateOptions,
        );
      }
      if (owner.received - before !== n)
        throw new Error(`${router.label}: private events were not delivered`);
    },
  };
}

const gc = (globalThis as { gc?: () => void }).gc;

/** CPU ns per operation of `fn(n)` (after a full GC when `--expose-gc` is on, so no tree pays another's debt). */
function cpuNsPerOp(n: number, fn: (n: number) => void): number {
  gc?.();
  const start = process.cpuUsage();
  fn(n);
  const used = process.cpuUsage(start);
  return ((used.user + used.system) * 1000) / n;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

const CASES = [
  { metric: 'call_ns', n: CALLS, run: 'runCalls', note: 'routed CALL → INVOCATION, YIELD → RESULT' },
  {
    metric: 'publish_200_ns',
    n: PUBLISHES,
    run: 'runPublishes',
    note: `PUBLISH to ${SUBSCRIBERS} subscribers, ~200-B JSON event`,
  },
  {
    metric: 'private_event_ns',
    n: PRIVATE_EVENTS,
    run: 'runPrivateEvents',
    note: 'router event on a private topic, one subscriber',
  },
] as const;

async function main(): Promise<void> {
  const here = resolve(fileURLToPath(import.meta.url), '../..');
  const routers = [await loadRouter('this', here)];
  const baselineDir = process.env.BENCH_BASELINE_DIR;
  if (baselineDir) routers.push(await loadRouter('baseline', resolve(baselineDir)));
  else progress(SCENARIO, 'no BENCH_BASELINE_DIR: measuring this tree only');
  const setups = routers.map(setUp);
  // Warm-up: let the JIT settle on every path of every tree.
  for (const setup of setups) for (const c of CASES) setup[c.run](c.n);
  const samples = routers.map(() => CASES.map((): number[] => []));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [ci, c] of CASES.entries()) {
      // Alternate which tree goes first, so order effects cancel out over the rounds.
      const order = round % 2 === 0 ? [...setups.keys()] : [...setups.keys()].reverse();
      for (const ri of order) samples[ri]![ci]!.push(cpuNsPerOp(c.n, setups[ri]![c.run]));
    }
    progress(SCENARIO, `round ${round + 1}/${ROUNDS}`);
  }
  for (const [ci, c] of CASES.entries()) {
    const values = routers.map((_, ri) => median(samples[ri]![ci]!));
    for (const [ri, router] of routers.entries()) {
      report({
        scenario: SCENARIO,
        metric: `${router.label}_${c.metric}`,
        value: values[ri]!,
        unit: 'ns',
        target: null,
        better: 'lower',
        note: `${c.note}; CPU time per op, median of ${ROUNDS} rounds${gc ? ', GC before each' : ''} (${samples[ri]![ci]!.map((v) => Math.round(v)).join(', ')})`,
      });
    }
    if (routers.length === 2) {
      report({
        scenario: SCENARIO,
        metric: `ratio_${c.metric}`,
        value: values[0]! / values[1]!,
        unit: 'x',
        target: null,
        better: 'lower',
        note: `this tree ÷ ${baselineDir}`,
      });
    }
  }
}

await main();
