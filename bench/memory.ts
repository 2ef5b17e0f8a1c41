/**
 * Memory per subscribed document per session (DESIGN.md decision 15, issue 16 target 1: ≤ 40 B with one
 * publication source, ≤ 80 B when two publications overlap on the same documents), next to ddp-server-reactive
 * in the same run.
 *
 * 1,000 documents of ~200 B (bench/support/documents.ts; pgrt reads them from table `bench_docs`, the peer makes
 * them in its own process). For each N sessions (default 300 and 3,000) and each server, a fresh server process
 * (run with --expose-gc) is warmed with a few sessions that subscribe and leave; after forced GCs its JS heap and
 * RSS are the baseline. Then N raw DDP clients (in this process) connect → measure (`conn`); each subscribes to
 * `docs` (every document) and receives all of them → measure (`one`); pgrt's clients then also subscribe to
 * `docs_overlap` (the same rows through a second live query: every document held by two subscriptions, the
 * merge-box case) → measure (`two`). Figures are (measurement − baseline) / (N × documents), in bytes: what a
 * session-document costs with its share of the session and connection included. The note gives the
 * connection's share alone (`conn`).
 *
 * The peer (ddp-server-reactive 0.4.0, installed outside the repo: see peer.ts) keeps no per-session state for
 * documents at all and has no resumption log, so its figure is the floor of a DDP server's connection and
 * transport costs spread over the documents. It has no merge box, so it has no two-publication case. It keys
 * sessions by Date.now(), so its clients connect 2 ms apart. Runs without the peer when `BENCH_PEER_DIR` is unset.
 *
 * Usage: npx tsx bench/memory.ts [N...]   (default 300 3000; BENCH_QUICK=1: 100)
 *   env BENCH_MEMORY_DOCS (default 1000), BENCH_PEER_DIR, BENCH_HEAP_SNAPSHOT=<dir> (pgrt's server writes a
 *   heap snapshot there after the `one` and `two` measurements; open it in Chrome DevTools → Memory)
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DdpClient } from './support/ddp-client.js';
import { fillBenchDocs } from './support/documents.js';
import { inBatches, progress, report, sleep, waitFor } from './support/measure.js';
import { connectWriter, type Knobs, runScenario, startServer, stopServer } from './support/scenario.js';
import type { ServerProcess } from './support/server-process.js';
import type { MemReply } from './support/server-protocol.js';

const SCENARIO = 'memory';
const ADDED = Buffer.from('{"msg":"added"');

/** A server to measure: how to start it and what it supports. */
interface Subject {
  /** Metric prefix. */
  readonly prefix: string;
  readonly label: string;
  start(): Promise<ServerProcess>;
  /** Has the overlapping publication (a merge box). */
  readonly overlap: boolean;
  /** Milliseconds between two connections (the peer keys sessions by Date.now()). */
  readonly connectSpacingMs: number;
}

/** A client that counts the `added` frames it receives without parsing them. */
async function connectCounting(url: string): Promise<{ client: DdpClient; added: () => number }> {
  const client = await DdpClient.connect(url, 60_000);
  let added = 0;
  client.onFrame = (frame) => {
    if (frame.subarray(0, ADDED.length).equals(ADDED)) {
      added++;
      return true;
    }
    return false;
  };
  return { client, added: () => added };
}

async function settle(server: ServerProcess): Promise<MemReply> {
  await sleep(500);
  return server.memory();
}

/** Measures one subject at `n` sessions; resolves with its heap bytes per session-document, one publication. */
async function measure(subject: Subject, n: number, docs: number): Promise<number> {
  const server = await subject.start();
  const sessionDocs = n * docs;
  // Warm-up: load and compile the connection and subscription paths, then return to no sessions.
  const warm = await inBatches(50, 10, () => connectCounting(server.url));
  for (const { client } of warm) {
    await client.subscribe('docs');
    if (subject.overlap) await client.subscribe('docs_overlap');
  }
  for (const { client } of warm) client.close();
  await Promise.all(warm.map(({ client }) => client.closed()));
  const baseline = await settle(server);
  if (!baseline.gc) progress(SCENARIO, `warning: ${subject.label} runs without --expose-gc`);

  progress(SCENARIO, `${subject.label} ${n}: connecting`);
  const clients =
    subject.connectSpacingMs > 0
      ? await inBatches(n, 1, async () => {
          await sleep(subject.connectSpacingMs);
          return connectCounting(server.url);
        })
      : await inBatches(n, 100, () => connectCounting(server.url));
  const connected = await settle(server);

  progress(SCENARIO, `${subject.label} ${n}: subscribing to ${docs} documents`);
  await inBatches(n, 20, (i) => clients[i]!.client.subscribe('docs'));
  const all = await waitFor(() => clients.every((c) => c.added() >= docs), 120_000, 50);
  if (!all) throw new Error(`${subject.label}: not every client received ${docs} documents`);
  const one = await settle(server);

  const perSessionDoc = (m: MemReply, key: 'heapUsed' | 'rss'): number =>
    (m[key] - baseline[key]) / sessionDocs;
  const connShare = `connection share: heap ${perSessionDoc(connected, 'heapUsed').toFixed(1)} B, RSS ${perSessionDoc(connected, 'rss').toFixed(1)} B`;
  const emit = (phase: string, m: MemReply, target: number | null, what: string): void => {
    const mb = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);
    progress(
      SCENARIO,
      `${subject.label} ${n} ${phase}: heap ${mb(m.heapUsed)} MB (V8 committed ${mb(m.heapTotal)}), RSS ${mb(m.rss)} MB, external ${mb(m.external)} MB; baseline heap ${mb(baseline.heapUsed)} (${mb(baseline.heapTotal)}), RSS ${mb(baseline.rss)}, external ${mb(baseline.external)} MB`,
    );
    const note = `${n} sessions × ${docs} documents of ~200 B, ${what}; (after − baseline) / session-documents, after gc(); ${connShare}; pinned=${server.pinned}`;
    for (const [key, unit] of [
      ['heapUsed', 'heap'],
      ['rss', 'rss'],
    ] as const) {
      report({
        scenario: SCENARIO,
        metric: `${subject.prefix}${phase}_${unit}_b_per_session_doc_${n}`,
        value: perSessionDoc(m, key),
        unit: 'B',
        target,
        better: 'lower',
        note,
      });
    }
  };
  emit('one', one, subject.overlap ? 40 : null, 'one publication');

  if (subject.overlap) {
    progress(SCENARIO, `${subject.label} ${n}: subscribing to the overlapping publication`);
    await inBatches(n, 20, (i) => clients[i]!.client.subscribe('docs_overlap'));
    const two = await settle(server);
    emit('two', two, 80, 'two publications overlapping on every document');
    const extra = clients.reduce((sum, c) => sum + c.added(), 0) - sessionDocs;
    if (extra !== 0) progress(SCENARIO, `warning: ${extra} extra added frames (a merge-box bug)`);
  }
  for (const { client } of clients) client.close();
  await stopServer(server);
  return perSessionDoc(one, 'heapUsed');
}

async function body({ quick }: Knobs): Promise<void> {
  const docs = Number(process.env.BENCH_MEMORY_DOCS ?? 1000);
  const writer = await connectWriter();
  await fillBenchDocs(writer, docs);
  await writer.end();

  const subjects: Subject[] = [
    {
      prefix: '',
      label: 'pgrt',
      start: () =>
        startServer(
          process.env.BENCH_HEAP_SNAPSHOT
            ? { env: { BENCH_HEAP_SNAPSHOT: process.env.BENCH_HEAP_SNAPSHOT } }
            : {},
        ),
      overlap: true,
      connectSpacingMs: 0,
    },
  ];
  const peerDir = process.env.BENCH_PEER_DIR;
  if (peerDir && existsSync(join(peerDir, 'node_modules', 'ddp-server-reactive'))) {
    subjects.push({
      prefix: 'reactive_',
      label: 'ddp-server-reactive',
      start: () =>
        startServer({
          script: fileURLToPath(new URL('./support/peer-server.ts', import.meta.url)),
          env: { BENCH_PEER_DIR: peerDir, BENCH_PEER_DOCS: String(docs) },
        }),
      overlap: false,
      connectSpacingMs: 2,
    });
  } else {
    progress(SCENARIO, 'peer skipped: set BENCH_PEER_DIR to an install of ddp-server-reactive (see peer.ts)');
  }

  const args = process.argv
    .slice(2)
    .map(Number)
    .filter((n) => n > 0);
  const sizes = args.length > 0 ? args : quick ? [100] : [300, 3000];
  for (const n of sizes) {
    const heap = new Map<string, number>();
    for (const subject of subjects) heap.set(subject.prefix, await measure(subject, n, docs));
    const ours = heap.get('');
    const theirs = heap.get('reactive_');
    if (ours === undefined || theirs === undefined) continue;
    report({
      scenario: SCENARIO,
      metric: `one_heap_vs_reactive_${n}`,
      value: ours / theirs,
      unit: 'ratio',
      target: null,
      better: 'lower',
      note: `heap per session-document, one publication: pgrt ${ours.toFixed(2)} B ÷ ddp-server-reactive ${theirs.toFixed(2)} B (same run)`,
    });
  }
}

runScenario(SCENARIO, body);
