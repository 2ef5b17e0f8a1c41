/**
 * DDP heartbeats, Meteor's algorithm (packages/ddp-common/heartbeat.js; reference/ddp.md §1.4): every
 * `interval` ms, if nothing was received since the last check and no ping is outstanding, send a ping and
 * expect any message within `timeout` ms; otherwise the peer is considered gone. Any received message counts.
 *
 * Timers: every heartbeat of a server lives on one shared {@link TimerWheel} (one `setInterval` for all
 * connections) instead of an interval and a timeout per connection; it fires up to one wheel tick late. A
 * heartbeat is one small object with no closures: the connection it watches implements {@link HeartbeatTarget}.
 */
import { type TimerWheel, WheelEntry } from '../../transports/timer-wheel.js';

/** Heartbeat timing; both 0 disables heartbeats. */
export interface HeartbeatOptions {
  readonly interval: number;
  readonly timeout: number;
}

/** What a heartbeat watches (the DDP connection). */
export interface HeartbeatTarget {
  /** Send a `ping`. */
  heartbeatPing(): void;
  /** Nothing arrived within `timeout` of a ping: close the connection. Called once; the heartbeat has stopped. */
  heartbeatTimedOut(): void;
}

/** One connection's heartbeat. */
export class Heartbeat extends WheelEntry {
  #seenPacket = false;
  #pinging = false;

  constructor(
    private readonly options: HeartbeatOptions,
    private readonly wheel: TimerWheel,
    private readonly target: HeartbeatTarget,
  ) {
    super();
  }

  /** Starts watching (no-op when `interval` is 0). */
  start(): void {
    if (this.options.interval <= 0) return;
    this.wheel.schedule(this, this.options.interval);
  }

  /** Any message from the peer proves it is alive (hot path: a field write, plus a reschedule after a ping). */
  messageReceived(): void {
    this.#seenPacket = true;
    if (this.#pinging) {
      this.#pinging = false;
      this.#seenPacket = false;
      this.wheel.schedule(this, this.options.interval);
    }
  }

  /** Stops for good. */
  stop(): void {
    this.#pinging = false;
    this.wheel.cancel(this);
  }

  /** The wheel's callback: an interval elapsed, or a ping's timeout did. */
  override fire(): void {
    if (this.#pinging) {
      this.#pinging = false;
      this.target.heartbeatTimedOut();
      return;
    }
    if (this.#seenPacket) {
      this.#seenPacket = false;
      this.wheel.schedule(this, this.options.interval);
      return;
    }
    this.#pinging = true;
    this.wheel.schedule(this, this.options.timeout);
    this.target.heartbeatPing();
  }
}

/** A wheel whose resolution suits `options`: about 1/8 of the shorter period, between 5 ms and 1 s. */
export function heartbeatWheelTick(options: HeartbeatOptions): number {
  const shortest = Math.min(options.interval, options.timeout > 0 ? options.timeout : options.interval);
  return Math.min(1000, Math.max(5, Math.floor(shortest / 8)));
}
