/**
 * DDP heartbeats, Meteor's algorithm (packages/ddp-common/heartbeat.js; reference/ddp.md §1.4): every
 * `interval` ms, if nothing was received since the last check and no ping is outstanding, send a ping and
 * expect any message within `timeout` ms; otherwise the peer is considered gone. Any received message counts.
 *
 * Timers: every heartbeat of a server lives on one shared {@link TimerWheel} (one `setInterval` for all
 * connections) instead of an interval and a timeout per connection; it fires up to one wheel tick late. A
 * heartbeat is no object of its own: the connection it watches extends {@link Heartbeat} (a wheel entry and a
 * phase on the connection itself, no closures).
 */
import { type TimerWheel, WheelEntry } from '../../transports/timer-wheel.js';

/** Heartbeat timing; both 0 disables heartbeats. */
export interface HeartbeatOptions {
  readonly interval: number;
  readonly timeout: number;
}

/** Where heartbeats run: their timing and the wheel they share (one object for all of an adapter's heartbeats). */
export interface HeartbeatClock {
  readonly heartbeat: HeartbeatOptions;
  readonly wheel: TimerWheel;
}

/** One connection's heartbeat: the connection it watches extends it. */
export abstract class Heartbeat extends WheelEntry {
  /** `quiet`: nothing received since the last check; `heard`: something was; `pinging`: a ping awaits any answer. */
  #phase: 'quiet' | 'heard' | 'pinging' = 'quiet';

  /** The timing and the wheel (shared by every connection of an adapter). */
  protected abstract get clock(): HeartbeatClock;
  /** Send a `ping`. */
  abstract heartbeatPing(): void;
  /** Nothing arrived within `timeout` of a ping: close the connection. Called once; the heartbeat has stopped. */
  abstract heartbeatTimedOut(): void;

  /** Starts watching (no-op when `interval` is 0). */
  protected startHeartbeat(): void {
    const interval = this.clock.heartbeat.interval;
    if (interval <= 0) return;
    this.clock.wheel.schedule(this, interval);
  }

  /** Any message from the peer proves it is alive (hot path: a field write, plus a reschedule after a ping). */
  protected heartbeatReceived(): void {
    if (this.#phase !== 'pinging') {
      this.#phase = 'heard';
      return;
    }
    this.#phase = 'quiet';
    this.clock.wheel.schedule(this, this.clock.heartbeat.interval);
  }

  /** Stops for good. */
  protected stopHeartbeat(): void {
    this.#phase = 'quiet';
    this.clock.wheel.cancel(this);
  }

  /** The wheel's callback: an interval elapsed, or a ping's timeout did. */
  override fire(): void {
    const { heartbeat, wheel } = this.clock;
    switch (this.#phase) {
      case 'pinging':
        this.#phase = 'quiet';
        this.heartbeatTimedOut();
        return;
      case 'heard':
        this.#phase = 'quiet';
        wheel.schedule(this, heartbeat.interval);
        return;
      case 'quiet':
        this.#phase = 'pinging';
        wheel.schedule(this, heartbeat.timeout);
        this.heartbeatPing();
        return;
    }
  }
}

/** A wheel whose resolution suits `options`: about 1/8 of the shorter period, between 5 ms and 1 s. */
export function heartbeatWheelTick(options: HeartbeatOptions): number {
  const shortest = Math.min(options.interval, options.timeout > 0 ? options.timeout : options.interval);
  return Math.min(1000, Math.max(5, Math.floor(shortest / 8)));
}
