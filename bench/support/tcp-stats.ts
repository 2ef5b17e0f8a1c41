/**
 * The kernel's TCP counters a connection storm is judged by (Linux, read from `/proc`; zeros elsewhere): accept
 * queues that overflowed and the SYNs clients had to send again because of it, plus the listen queue's cap
 * (`net.core.somaxconn`). The counters are the machine's (its network namespace's), so a reading spans every
 * process that connects meanwhile.
 */
import { readFileSync } from 'node:fs';

/** TcpExt counters of `/proc/net/netstat` (the names `nstat` prints without the `TcpExt` prefix). */
export interface TcpCounters {
  /** Connections dropped because a listener's accept queue was full. */
  readonly ListenOverflows: number;
  /** Connection attempts a listener dropped, for any reason (overflows included). */
  readonly ListenDrops: number;
  /** SYNs sent again (a client's SYN that got no answer, after 1 s, 3 s, 7 s…). */
  readonly TCPSynRetrans: number;
  /** SYN queue full: answered with a SYN cookie. */
  readonly TCPReqQFullDoCookies: number;
  /** SYN queue full: dropped. */
  readonly TCPReqQFullDrop: number;
}

const NAMES = [
  'ListenOverflows',
  'ListenDrops',
  'TCPSynRetrans',
  'TCPReqQFullDoCookies',
  'TCPReqQFullDrop',
] as const;

/** The counters now (all 0 where `/proc/net/netstat` is missing). */
export function tcpCounters(): TcpCounters {
  const counters: Record<string, number> = Object.fromEntries(NAMES.map((name) => [name, 0]));
  let text = '';
  try {
    text = readFileSync('/proc/net/netstat', 'utf8');
  } catch {
    return counters as unknown as TcpCounters;
  }
  const lines = text.split('\n').filter((line) => line.startsWith('TcpExt:'));
  const names = (lines[0] ?? '').split(/\s+/).slice(1);
  const values = (lines[1] ?? '').split(/\s+/).slice(1);
  for (const name of NAMES) {
    const at = names.indexOf(name);
    if (at >= 0) counters[name] = Number(values[at] ?? 0);
  }
  return counters as unknown as TcpCounters;
}

/** `after - before`, counter by counter. */
export function tcpCountersSince(before: TcpCounters): TcpCounters {
  const after = tcpCounters();
  const delta: Record<string, number> = {};
  for (const name of NAMES) delta[name] = after[name] - before[name];
  return delta as unknown as TcpCounters;
}

/** `net.core.somaxconn`: the kernel's cap on every listen queue (undefined where unknown). */
export function somaxconn(): number | undefined {
  try {
    return Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim());
  } catch {
    return undefined;
  }
}
