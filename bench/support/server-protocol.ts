/**
 * IPC messages between a scenario and the server under test ({@link ./server.ts}). Requests carry an id; the
 * server answers each with the same id and op. `ready`/`failed` are sent once, at start-up.
 */

/** Scenario → server. */
export type ServerRequest = { readonly id: number; readonly op: 'cpu' | 'mem' | 'stats' | 'close' };

/** Scenario → peer server only: make `count` changes to the published document (the peer has no database). */
export interface BurstRequest {
  readonly id: number;
  readonly op: 'burst';
  readonly count: number;
}

/** Cumulative CPU time of the server process, µs (process.cpuUsage). */
export interface CpuReply {
  readonly id: number;
  readonly op: 'cpu';
  readonly user: number;
  readonly system: number;
}

/** Memory of the server process after forced GCs (bytes; `gc` false when run without --expose-gc). */
export interface MemReply {
  readonly id: number;
  readonly op: 'mem';
  readonly rss: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
  readonly arrayBuffers: number;
  readonly gc: boolean;
}

/** Open sessions. */
export interface StatsReply {
  readonly id: number;
  readonly op: 'stats';
  readonly sessions: number;
}

/** Closed (the process exits right after). */
export interface CloseReply {
  readonly id: number;
  readonly op: 'close';
}

/** The changes of a burst were sent. */
export interface BurstReply {
  readonly id: number;
  readonly op: 'burst';
}

/** Server → scenario. */
export type ServerReply =
  | BurstReply
  | CpuReply
  | MemReply
  | StatsReply
  | CloseReply
  | { readonly type: 'ready'; readonly port: number }
  | { readonly type: 'failed'; readonly error: string };
