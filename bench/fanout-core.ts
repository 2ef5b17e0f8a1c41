/**
 * The core's share of a fan-out, in process and without sockets: server CPU per delivery from a change to the
 * encoded DDP frame — the live observer, 1,000 subscriptions, their sessions' merge boxes and the DDP encoder —
 * and per session-document when a subscription attaches. The socket writes that dominate `fanout.ts` (and the
 * machine's noise with them) are left out, so a change to the core's path shows here first; compare two trees in
 * the same session (`cd <tree> && npx tsx bench/fanout-core.ts`, alternating).
 *
 * A core (no HTTP server) on the bench database serves the bench app; 1,000 sessions, whose output encodes each
 * message with the DDP codec and drops it, subscribe to `docs` (1,000 rows of ~200 B, bench/support/documents.ts).
 * Change events are then handed to the observer pool directly (`RealtimeCore.pool.handle`, as the bus would):
 * 200 updates of one row, 200 inserts, 200 deletes. Figures: CPU time of this process (process.cpuUsage) / frames
 * produced, median of 3 runs.
 *
 * Usage: npx tsx bench/fanout-core.ts
 */
import { encodeServerMessage } from '../adapters/ddp/ddp-codec.js';
import { PgNotificationBus } from '../core/bus/pg-notification-bus.js';
import type { Fields } from '../core/contexts.js';
import { PgDatabase } from '../core/database/database.js';
import { RealtimeCore } from '../core/realtime-core.js';
import type { Session, SessionOutput } from '../core/session.js';
import { benchApp } from './support/bench-app.js';
import { benchDocument, benchDocumentId, fillBenchDocs } from './support/documents.js';
import { databaseUrl } from './support/environment.js';
import { progress, report } from './support/measure.js';
import { connectWriter, type Knobs, runScenario } from './support/scenario.js';

const SCENARIO = 'fanout-core';
const SESSIONS = 1000;
const DOCS = 1000;
const CHANGES = 200;
const RUNS = 3;

/** CPU time of this process, ns. */
function cpuNs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) * 1000;
}

let frames = 0;
/** A session output that encodes every data message as the DDP adapter does, then drops it. */
const encodingOutput: SessionOutput = {
  added(collection: string, id: string, fields: Fields) {
    encodeServerMessage({ msg: 'added', collection, id, fields });
    frames++;
  },
  changed(collection: string, id: string, fields: Fields, cleared: readonly string[]) {
    encodeServerMessage({ msg: 'changed', collection, id, fields, cleared });
    frames++;
  },
  removed(collection: string, id: string) {
    encodeServerMessage({ msg: 'removed', collection, id });
    frames++;
  },
  subscriptionsReady() {},
  subscriptionStopped() {},
  methodResult() {},
  writesDelivered() {},
};

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

async function body(_knobs: Knobs): Promise<void> {
  const writer = await connectWriter();
  await fillBenchDocs(writer, DOCS);
  await writer.end();

  const channel = `pgrt_bench_core_${process.pid}`;
  const db = new PgDatabase(databaseUrl(), { poolSize: 4 });
  const core = new RealtimeCore(benchApp(), db, new PgNotificationBus(db, { channel }), { channel });
  await core.start();
  const figures = {
    attach: [] as number[],
    update: [] as number[],
    insert: [] as number[],
    remove: [] as number[],
  };
  let seq = 1_000_000_000;
  const change = (op: 'insert' | 'update' | 'delete', i: number, row: Record<string, unknown> | undefined) =>
    core.pool.handle({ kind: 'change', seq: seq++, table: 'public.bench_docs', op, key: i, row, txid: '0' });
  const rowOf = (id: string, n: number): Record<string, unknown> => {
    const d = benchDocument(n);
    return {
      id,
      title: d.title,
      subtitle: d.subtitle,
      author: d.author,
      n,
      created_at: d.created_at.toISOString(),
    };
  };
  try {
    for (let run = 0; run < RUNS; run++) {
      const sessions: Session[] = [];
      frames = 0;
      let started = cpuNs();
      for (let i = 0; i < SESSIONS; i++) {
        const info = { id: `c${run}-${i}`, protocol: 'bench', clientAddress: '127.0.0.1', httpHeaders: {} };
        const session = core.openSession(info, encodingOutput);
        await session.subscribe('s', 'docs', []);
        sessions.push(session);
      }
      figures.attach.push((cpuNs() - started) / frames);
      const measure = (list: number[], make: (i: number) => void): void => {
        frames = 0;
        started = cpuNs();
        for (let i = 0; i < CHANGES; i++) make(i);
        list.push((cpuNs() - started) / frames);
      };
      const first = benchDocumentId(0);
      measure(figures.update, (i) => change('update', 0, { ...rowOf(first, 0), n: DOCS + i }));
      measure(figures.insert, (i) => change('insert', i, rowOf(`new-${i}`, DOCS + i)));
      measure(figures.remove, (i) => change('delete', i, rowOf(`new-${i}`, DOCS + i)));
      for (const session of sessions) session.close();
      progress(
        SCENARIO,
        `run ${run + 1}: attach ${figures.attach.at(-1)?.toFixed(0)}, update ${figures.update.at(-1)?.toFixed(0)}, insert ${figures.insert.at(-1)?.toFixed(0)}, remove ${figures.remove.at(-1)?.toFixed(0)} ns per frame`,
      );
    }
  } finally {
    await core.close();
    await db.close();
  }
  const note = `${SESSIONS} sessions × ${DOCS} documents of ~200 B, in process, no sockets; CPU of this process per frame encoded, median of ${RUNS}`;
  for (const [name, list] of Object.entries(figures)) {
    report({
      scenario: SCENARIO,
      metric: name === 'attach' ? 'attach_ns_per_session_doc' : `${name}_ns_per_delivery`,
      value: median(list),
      unit: 'ns',
      target: null,
      better: 'lower',
      note,
    });
  }
}

runScenario(SCENARIO, body, { pin: false });
