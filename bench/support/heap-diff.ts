/**
 * Where the heap of N connections goes: compares two V8 heap snapshots of one process (BENCH_HEAP_SNAPSHOT, e.g.
 * bench/idle.ts's baseline and `connected` ones) and prints, per kind of object, how many more there are and
 * their self size per connection; with `--retainers`, for each of the largest kinds, what holds its new objects
 * (the retainer's kind and the edge's name).
 *
 * Node ids are stable across the snapshots of one process, so an object is new when its id is not in the first
 * snapshot. Kinds: the constructor's name for objects, `(closure) name` for functions, `(array) name` for V8's
 * internal arrays (e.g. `(object properties)`, `(object elements)`), `(string)` for strings, `(hidden) name` etc.
 *
 * `--show <kind>`: three new objects of that kind, their chain of first retainers and their edges. `--tree
 * <kind,kind…>`: one connection's objects as a tree (see showTree), e.g. `--tree WsConnection,Socket`.
 *
 * Usage: node --max-old-space-size=4096 --import tsx bench/support/heap-diff.ts before.heapsnapshot
 *        after.heapsnapshot N [--retainers] [--top 40] [--show <kind> | --tree <kinds>]
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  readonly nodeFieldCount: number;
  readonly nodes: Uint32Array | number[];
  readonly edges: Uint32Array | number[];
  readonly edgeFieldCount: number;
  readonly strings: readonly string[];
  readonly nodeTypes: readonly string[];
  readonly edgeTypes: readonly string[];
  /** For each node index (ordinal), where its edges start in `edges`. */
  readonly firstEdge: Uint32Array;
  readonly typeOffset: number;
  readonly nameOffset: number;
  readonly idOffset: number;
  readonly sizeOffset: number;
  readonly edgeCountOffset: number;
  readonly edgeTypeOffset: number;
  readonly edgeNameOffset: number;
  readonly edgeToOffset: number;
}

interface RawSnapshot {
  snapshot: {
    meta: {
      node_fields: string[];
      node_types: [string[], ...unknown[]];
      edge_fields: string[];
      edge_types: [string[], ...unknown[]];
    };
  };
  nodes: number[];
  edges: number[];
  strings: string[];
}

function load(path: string): Snapshot {
  const raw = JSON.parse(readFileSync(path, 'utf8')) as RawSnapshot;
  const meta = raw.snapshot.meta;
  const nodeFieldCount = meta.node_fields.length;
  const edgeFieldCount = meta.edge_fields.length;
  const edgeCountOffset = meta.node_fields.indexOf('edge_count');
  const nodeCount = raw.nodes.length / nodeFieldCount;
  const firstEdge = new Uint32Array(nodeCount + 1);
  let at = 0;
  for (let i = 0; i < nodeCount; i++) {
    firstEdge[i] = at;
    at += (raw.nodes[i * nodeFieldCount + edgeCountOffset] as number) * edgeFieldCount;
  }
  firstEdge[nodeCount] = at;
  return {
    nodeFieldCount,
    nodes: raw.nodes,
    edges: raw.edges,
    edgeFieldCount,
    strings: raw.strings,
    nodeTypes: meta.node_types[0],
    edgeTypes: meta.edge_types[0],
    firstEdge,
    typeOffset: meta.node_fields.indexOf('type'),
    nameOffset: meta.node_fields.indexOf('name'),
    idOffset: meta.node_fields.indexOf('id'),
    sizeOffset: meta.node_fields.indexOf('self_size'),
    edgeCountOffset,
    edgeTypeOffset: meta.edge_fields.indexOf('type'),
    edgeNameOffset: meta.edge_fields.indexOf('name_or_index'),
    edgeToOffset: meta.edge_fields.indexOf('to_node'),
  };
}

function nodeCount(s: Snapshot): number {
  return s.nodes.length / s.nodeFieldCount;
}

function field(s: Snapshot, node: number, offset: number): number {
  return s.nodes[node * s.nodeFieldCount + offset] as number;
}

/** The kind a node is counted under. */
function kindOf(s: Snapshot, node: number): string {
  const type = s.nodeTypes[field(s, node, s.typeOffset)] ?? '?';
  const name = s.strings[field(s, node, s.nameOffset)] ?? '?';
  switch (type) {
    case 'object':
      return name;
    case 'string':
    case 'concatenated string':
    case 'sliced string':
      return '(string)';
    case 'number':
      return '(heap number)';
    case 'closure':
      return `(closure) ${name}`;
    default:
      return `(${type}) ${name.length > 60 ? `${name.slice(0, 60)}…` : name}`;
  }
}

interface Tally {
  count: number;
  bytes: number;
}

function tally(map: Map<string, Tally>, key: string, bytes: number): void {
  const t = map.get(key);
  if (t) {
    t.count++;
    t.bytes += bytes;
  } else {
    map.set(key, { count: 1, bytes });
  }
}

/** For each node, the ordinal of its retainers (non-weak edges), made on demand. */
function retainersOf(s: Snapshot): { readonly first: Uint32Array; readonly list: Uint32Array } {
  const count = nodeCount(s);
  const degree = new Uint32Array(count + 1);
  const weak = s.edgeTypes.indexOf('weak');
  for (let e = 0; e < s.edges.length; e += s.edgeFieldCount) {
    if (s.edges[e + s.edgeTypeOffset] === weak) continue;
    degree[(s.edges[e + s.edgeToOffset] as number) / s.nodeFieldCount]!++;
  }
  const first = new Uint32Array(count + 1);
  for (let i = 0; i < count; i++) first[i + 1] = first[i]! + degree[i]!;
  const fill = first.slice();
  const list = new Uint32Array(first[count]!);
  for (let node = 0; node < count; node++) {
    for (let e = s.firstEdge[node]!; e < s.firstEdge[node + 1]!; e += s.edgeFieldCount) {
      if (s.edges[e + s.edgeTypeOffset] === weak) continue;
      const to = (s.edges[e + s.edgeToOffset] as number) / s.nodeFieldCount;
      list[fill[to]!++] = e; // the edge's index: its holder is found by search below
    }
  }
  return { first, list };
}

/** The node owning edge index `e` (binary search over firstEdge). */
function edgeOwner(s: Snapshot, e: number): number {
  let lo = 0;
  let hi = nodeCount(s) - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (s.firstEdge[mid]! <= e) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

function edgeName(s: Snapshot, e: number): string {
  const type = s.edgeTypes[s.edges[e + s.edgeTypeOffset] as number] ?? '?';
  const nameOrIndex = s.edges[e + s.edgeNameOffset] as number;
  if (type === 'element' || type === 'hidden') return `[${nameOrIndex}]`;
  return s.strings[nameOrIndex] ?? '?';
}

function main(): void {
  const args = process.argv.slice(2);
  const showRetainers = args.includes('--retainers');
  const topAt = args.indexOf('--top');
  const top = topAt >= 0 ? Number(args[topAt + 1]) : 40;
  const positional = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--top');
  const [beforePath, afterPath, nArg] = positional;
  if (!beforePath || !afterPath || !nArg) {
    process.stderr.write(
      'usage: heap-diff.ts before.heapsnapshot after.heapsnapshot N [--retainers] [--top 40]\n',
    );
    process.exit(2);
  }
  const n = Number(nArg);
  const before = load(beforePath);
  const after = load(afterPath);

  const beforeIds = new Set<number>();
  for (let i = 0; i < nodeCount(before); i++) beforeIds.add(field(before, i, before.idOffset));
  const beforeTotals = new Map<string, Tally>();
  for (let i = 0; i < nodeCount(before); i++)
    tally(beforeTotals, kindOf(before, i), field(before, i, before.sizeOffset));

  const afterTotals = new Map<string, Tally>();
  const fresh = new Map<string, Tally>();
  const freshNodes = new Map<string, number[]>();
  let freshBytes = 0;
  for (let i = 0; i < nodeCount(after); i++) {
    const kind = kindOf(after, i);
    const size = field(after, i, after.sizeOffset);
    tally(afterTotals, kind, size);
    if (!beforeIds.has(field(after, i, after.idOffset))) {
      tally(fresh, kind, size);
      freshBytes += size;
      const list = freshNodes.get(kind);
      if (list) list.push(i);
      else freshNodes.set(kind, [i]);
    }
  }

  let totalBefore = 0;
  let totalAfter = 0;
  for (const t of beforeTotals.values()) totalBefore += t.bytes;
  for (const t of afterTotals.values()) totalAfter += t.bytes;
  const out = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  out(
    `self sizes: before ${(totalBefore / 2 ** 20).toFixed(2)} MB, after ${(totalAfter / 2 ** 20).toFixed(2)} MB: ` +
      `${((totalAfter - totalBefore) / n).toFixed(0)} B per connection (net); new objects ${(freshBytes / n).toFixed(0)} B per connection`,
  );
  out('');
  out('net difference by kind (per connection):');
  out(`${'count/conn'.padStart(10)} ${'bytes/conn'.padStart(10)}  kind`);
  const kinds = new Set([...beforeTotals.keys(), ...afterTotals.keys()]);
  const rows = [...kinds].map((kind) => {
    const b = beforeTotals.get(kind) ?? { count: 0, bytes: 0 };
    const a = afterTotals.get(kind) ?? { count: 0, bytes: 0 };
    return { kind, count: (a.count - b.count) / n, bytes: (a.bytes - b.bytes) / n };
  });
  rows.sort((x, y) => Math.abs(y.bytes) - Math.abs(x.bytes));
  for (const row of rows.slice(0, top))
    out(`${row.count.toFixed(2).padStart(10)} ${row.bytes.toFixed(1).padStart(10)}  ${row.kind}`);

  const showAt = args.indexOf('--show');
  const { first, list } = retainersOf(after);
  const treeAt = args.indexOf('--tree');
  if (treeAt >= 0) {
    const roots = (args[treeAt + 1] ?? '').split(',').map((kind) => freshNodes.get(kind)?.[0]);
    showTree(
      after,
      beforeIds,
      roots.filter((r): r is number => r !== undefined),
      out,
    );
    return;
  }
  if (showAt >= 0) {
    showSamples(after, first, list, freshNodes.get(args[showAt + 1] ?? '') ?? [], out);
    return;
  }
  if (!showRetainers) return;
  out('');
  out('what holds the new objects of the largest kinds (retainer kind . edge: share of the kind):');
  const freshRows = [...fresh.entries()].sort((x, y) => y[1].bytes - x[1].bytes).slice(0, top);
  for (const [kind, t] of freshRows) {
    if (t.bytes / n < 4) continue;
    const holders = new Map<string, number>();
    for (const node of freshNodes.get(kind) ?? []) {
      for (let r = first[node]!; r < first[node + 1]!; r++) {
        const e = list[r]!;
        const owner = edgeOwner(after, e);
        tally2(holders, `${kindOf(after, owner)} . ${edgeName(after, e)}`);
      }
    }
    out(`${kind}: ${(t.count / n).toFixed(2)}/conn, ${(t.bytes / n).toFixed(1)} B/conn`);
    const held = [...holders.entries()].sort((x, y) => y[1] - x[1]).slice(0, 6);
    for (const [holder, count] of held) out(`    ${(count / n).toFixed(2).padStart(6)}  ${holder}`);
  }
}

/**
 * Prints the new objects reachable from `roots` (the first new object of each kind named) through new objects
 * only, as a tree of first visits with self sizes, and their total: one connection's objects, when the roots are
 * its own. It does not go into objects of the roots' kinds (another connection's) nor into shapes, code and
 * native objects.
 */
function showTree(
  s: Snapshot,
  beforeIds: ReadonlySet<number>,
  roots: readonly number[],
  out: (line: string) => void,
): void {
  const weak = s.edgeTypes.indexOf('weak');
  const seen = new Set<number>(roots);
  const rootKinds = new Set(roots.map((root) => kindOf(s, root)));
  let total = 0;
  const visit = (node: number, depth: number, label: string): void => {
    const size = field(s, node, s.sizeOffset);
    total += size;
    out(`${'  '.repeat(depth)}${label}${kindOf(s, node)} ${size} B`);
    for (let e = s.firstEdge[node]!; e < s.firstEdge[node + 1]!; e += s.edgeFieldCount) {
      if (s.edges[e + s.edgeTypeOffset] === weak) continue;
      const to = (s.edges[e + s.edgeToOffset] as number) / s.nodeFieldCount;
      if (seen.has(to) || beforeIds.has(field(s, to, s.idOffset))) continue;
      const kind = kindOf(s, to);
      if (rootKinds.has(kind) || kind.startsWith('(code)') || kind.startsWith('(object shape)')) continue;
      const type = s.nodeTypes[field(s, to, s.typeOffset)];
      if (type === 'synthetic' || type === 'native') continue;
      seen.add(to);
      visit(to, depth + 1, `${edgeName(s, e)}: `);
    }
  };
  for (const root of roots) visit(root, 0, '');
  out(`total ${total} B`);
}

/** Prints three sample nodes: their chain of first retainers and their outgoing edges. */
function showSamples(
  s: Snapshot,
  first: Uint32Array,
  list: Uint32Array,
  nodes: readonly number[],
  out: (line: string) => void,
): void {
  for (const node of nodes.slice(0, 3)) {
    out('');
    out(`${kindOf(s, node)} @${field(s, node, s.idOffset)} self ${field(s, node, s.sizeOffset)} B`);
    let at = node;
    for (let depth = 0; depth < 6; depth++) {
      if (first[at] === first[at + 1]) break;
      const e = list[first[at]!]!;
      const owner = edgeOwner(s, e);
      out(`  held by ${kindOf(s, owner)} @${field(s, owner, s.idOffset)} . ${edgeName(s, e)}`);
      at = owner;
    }
    for (let e = s.firstEdge[node]!; e < s.firstEdge[node + 1]!; e += s.edgeFieldCount) {
      const to = (s.edges[e + s.edgeToOffset] as number) / s.nodeFieldCount;
      const type = s.edgeTypes[s.edges[e + s.edgeTypeOffset] as number];
      out(`    -${type} ${edgeName(s, e)} -> ${kindOf(s, to)} ${field(s, to, s.sizeOffset)} B`);
    }
  }
}

function tally2(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

main();
