/**
 * Supabase Realtime next to DDP, from one server process serving both (support/supabase-server.ts), in the same
 * run (issue 15 "Bench"): external INSERT → client latency with 1 and 100 subscribers, and fan-out deliveries/s.
 *
 * Latency: as latency.ts — a plain `pg` writer INSERTs ~200-B rows into `bench_rows` at 200/s, each carrying its
 * monotonic send time `t`; DDP clients subscribed to `rows` take `now() - t` at `added`, Supabase clients (raw
 * Phoenix 2.0.0, support/phoenix-client.ts, one postgres_changes INSERT binding on `bench_rows`) at the
 * `postgres_changes` push (parsed, `data.record.t`). Per N, `BENCH_ROUNDS` rounds (default 3), DDP and Supabase back
 * to back, the order alternating; figures are medians of the rounds, `ratio_*` the median of the rounds' Supabase ÷
 * DDP.
 *
 * Fan-out: 200 subscribers (BENCH_QUICK: 50) of one protocol at a time, one INSERT of 100 rows into `bench_fan`
 * (→ 20,000 deliveries), counted without parsing (support/fanout-load.ts), median of 3 bursts: deliveries/s, and per
 * second of server CPU; `fanout_ratio` = Supabase ÷ DDP deliveries/s.
 *
 * Usage: npx tsx bench/supabase.ts [subscribers...]   (latency cases only: e.g. `npx tsx bench/supabase.ts 1`)
 *        npx tsx bench/supabase.ts fanout             (the fan-out case only)
 */
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { DdpClient } from './support/ddp-client.js';
import { type BurstResult, DeliveryCounter, measureBurst, medianBurst } from './support/fanout-load.js';
import { inBatches, now, progress, report, Samples, sleep, waitFor } from './support/measure.js';
import { PhoenixClient } from './support/phoenix-client.js';
import { connectWriter, type Knobs, runScenario, startServer } from './support/scenario.js';
import type { ServerProcess } from './support/server-process.js';

const SCENARIO = 'supabase';
const RATE = 200;
const PAD = 'x'.repeat(160);
const script = fileURLToPath(new URL('./support/supabase-server.ts', import.meta.url));

type Kind = 'ddp' | 'supabase';

/** A protocol's N subscribers, each calling `sample(t)` for a received row with send time `t`. */
interface Subscribers {
  close(): void;
}

async function subscribe(
  kind: Kind,
  server: ServerProcess,
  count: number,
  onRow: (t: number) => void,
): Promise<Subscribers> {
  if (kind === 'ddp') {
    const clients = await inBatches(count, 50, () => DdpClient.connect(server.url));
    await inBatches(clients.length, 50, (i) => clients[i]!.subscribe('rows'));
    for (const client of clients) {
      client.onData = (message) => {
        const t = (message.fields as { t?: unknown } | undefined)?.t;
        if (message.msg === 'added' && typeof t === 'number') onRow(t);
      };
    }
    return {
      close: () => {
        for (const c of clients) c.close();
      },
    };
  }
  const base = `http://127.0.0.1:${server.port}`;
  const clients = await inBatches(count, 50, () => PhoenixClient.connect(base));
  await inBatches(clients.length, 50, (i) => clients[i]!.subscribe('bench', 'bench_rows', 'INSERT'));
  for (const client of clients) {
    client.onChange = (data) => {
      const t = (data.record as { t?: unknown } | undefined)?.t;
      if (typeof t === 'number') onRow(t);
    };
  }
  return {
    close: () => {
      for (const c of clients) c.close();
    },
  };
}

/** One latency case: p50/p99 ms of every delivery to `count` subscribers of `kind`. */
async function latency(
  kind: Kind,
  server: ServerProcess,
  writer: pg.Client,
  count: number,
  seconds: number,
): Promise<{ p50: number; p99: number; delivered: number; expected: number }> {
  await writer.query('TRUNCATE bench_rows');
  const samples = new Samples();
  let delivered = 0;
  let measuring = false;
  const subscribers = await subscribe(kind, server, count, (t) => {
    delivered++;
    if (measuring) samples.add(now() - t);
  });
  const insert = (): Promise<pg.QueryResult> =>
    writer.query('INSERT INTO bench_rows (t, pad) VALUES ($1, $2)', [now(), PAD]);
  for (let i = 0; i < 20; i++) {
    await insert();
    await sleep(5);
  }
  await waitFor(() => delivered >= 20 * count, 10_000);
  delivered = 0;
  measuring = true;
  const total = Math.round(RATE * seconds);
  const started = now();
  for (let i = 0; i < total; i++) {
    const wait = started + (i * 1000) / RATE - now();
    if (wait > 1) await sleep(wait);
    await insert();
  }
  await waitFor(() => delivered >= total * count, 10_000);
  measuring = false;
  subscribers.close();
  const [p50, p99] = samples.quantiles(0.5, 0.99);
  return { p50: p50!, p99: p99!, delivered, expected: total * count };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function latencyCases(
  server: ServerProcess,
  writer: pg.Client,
  counts: number[],
  seconds: number,
): Promise<void> {
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  for (const count of counts) {
    const figures: Record<Kind, { p50: number[]; p99: number[]; lost: number }> = {
      ddp: { p50: [], p99: [], lost: 0 },
      supabase: { p50: [], p99: [], lost: 0 },
    };
    const ratios: { p50: number[]; p99: number[] } = { p50: [], p99: [] };
    for (let round = 0; round < rounds; round++) {
      const order: Kind[] = round % 2 === 0 ? ['ddp', 'supabase'] : ['supabase', 'ddp'];
      const result: Partial<Record<Kind, { p50: number; p99: number }>> = {};
      for (const kind of order) {
        progress(
          SCENARIO,
          `latency round ${round + 1}/${rounds}: ${kind}, ${count} subscriber(s), ${RATE}/s`,
        );
        const r = await latency(kind, server, writer, count, seconds);
        figures[kind].p50.push(r.p50);
        figures[kind].p99.push(r.p99);
        figures[kind].lost += r.expected - r.delivered;
        result[kind] = r;
      }
      ratios.p50.push(result.supabase!.p50 / result.ddp!.p50);
      ratios.p99.push(result.supabase!.p99 / result.ddp!.p99);
    }
    const note = `${count} subs, ${RATE} inserts/s, ~200-B rows, medians of ${rounds} rounds; lost ddp ${figures.ddp.lost}, supabase ${figures.supabase.lost}; pinned=${server.pinned}`;
    for (const kind of ['ddp', 'supabase'] as const) {
      for (const q of ['p50', 'p99'] as const) {
        report({
          scenario: SCENARIO,
          metric: `${kind}_sub${count}_${q}_ms`,
          value: median(figures[kind][q]),
          unit: 'ms',
          target: null,
          better: 'lower',
          note,
        });
      }
    }
    for (const q of ['p50', 'p99'] as const) {
      report({
        scenario: SCENARIO,
        metric: `ratio_sub${count}_${q}`,
        value: median(ratios[q]),
        unit: 'ratio',
        target: null,
        better: 'lower',
        note: 'Supabase ÷ DDP, same server, same run',
      });
    }
  }
}

async function fanout(
  kind: Kind,
  server: ServerProcess,
  writer: pg.Client,
  count: number,
): Promise<BurstResult> {
  await writer.query('TRUNCATE bench_fan RESTART IDENTITY');
  const counter = new DeliveryCounter();
  const close: (() => void)[] = [];
  if (kind === 'ddp') {
    const clients = await inBatches(count, 50, () => DdpClient.connect(server.url));
    await inBatches(clients.length, 50, (i) => clients[i]!.subscribe('fan'));
    for (const client of clients) {
      counter.attach(client);
      close.push(() => client.close());
    }
  } else {
    const base = `http://127.0.0.1:${server.port}`;
    const clients = await inBatches(count, 50, () => PhoenixClient.connect(base));
    await inBatches(clients.length, 50, (i) => clients[i]!.subscribe('fan', 'bench_fan', '*'));
    const marker = Buffer.from('"postgres_changes"');
    for (const client of clients) {
      client.onFrame = (frame) => {
        if (frame.indexOf(marker) < 0) return false;
        counter.count++;
        counter.last = now();
        return true;
      };
      close.push(() => client.close());
    }
  }
  const runs: BurstResult[] = [];
  for (let run = 0; run < 3; run++) {
    runs.push(
      await measureBurst(server, counter, 100 * count, () =>
        writer.query("INSERT INTO bench_fan (v, pad) SELECT i, 'f' FROM generate_series(1, 100) i"),
      ),
    );
  }
  for (const c of close) c();
  return medianBurst(runs);
}

async function body({ seconds, quick }: Knobs): Promise<void> {
  const args = process.argv.slice(2);
  const fanoutOnly = args.includes('fanout');
  const only = args.map(Number).filter((n) => n > 0);
  const writer = await connectWriter();
  const server = await startServer({ script });
  if (!fanoutOnly) await latencyCases(server, writer, only.length > 0 ? only : [1, 100], seconds);
  if (only.length === 0) {
    const count = quick ? 50 : 200;
    const results: Partial<Record<Kind, BurstResult>> = {};
    for (const kind of ['ddp', 'supabase'] as const) {
      progress(SCENARIO, `fan-out: ${kind}, ${count} subscribers, INSERT of 100 rows, 3 bursts`);
      const r = await fanout(kind, server, writer, count);
      results[kind] = r;
      const note = `${count} subs × 100 inserts, ${r.delivered}/${r.expected} delivered, server CPU ${Math.round(r.serverCpuPercent)}%, clients ${Math.round(r.clientCpuPercent)}%, median of 3; pinned=${server.pinned}`;
      report({
        scenario: SCENARIO,
        metric: `${kind}_fanout_per_s`,
        value: r.perSecond,
        unit: 'msgs/s',
        target: null,
        better: 'higher',
        note,
      });
      report({
        scenario: SCENARIO,
        metric: `${kind}_fanout_per_server_cpu_s`,
        value: r.perServerCpuSecond,
        unit: 'msgs/s',
        target: null,
        better: 'higher',
        note,
      });
    }
    report({
      scenario: SCENARIO,
      metric: 'fanout_ratio',
      value: results.supabase!.perSecond / results.ddp!.perSecond,
      unit: 'ratio',
      target: null,
      better: 'higher',
      note: 'Supabase ÷ DDP deliveries/s, same server, same run',
    });
  }
  await writer.query('TRUNCATE bench_rows');
  await writer.query('TRUNCATE bench_fan');
  await writer.end();
}

runScenario(SCENARIO, body);
