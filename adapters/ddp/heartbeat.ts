/**
 * DDP heartbeats, Meteor's algorithm (packages/ddp-common/heartbeat.js; reference/ddp.md §1.4): every
 * `interval` ms, if nothing was received since the last tick and no ping is outstanding, send a ping and
 * expect any message within `timeout` ms; otherwise the peer is considered gone. Any received message counts.
 */

/** Heartbeat timing; both 0 disables heartbeats. */
export interface HeartbeatOptions {
  readonly interval: number;
  readonly timeout: number;
}

/** One connection's heartbeat. */
export class Heartbeat {
  #intervalTimer: NodeJS.Timeout | undefined;
  #timeoutTimer: NodeJS.Timeout | undefined;
  #seenPacket = false;

  constructor(
    private readonly options: HeartbeatOptions,
    private readonly sendPing: () => void,
    private readonly onTimeout: () => void,
  ) {}

  /** Starts ticking. */
  start(): void {
    if (this.options.interval <= 0 || this.#intervalTimer) return;
    this.#intervalTimer = setInterval(() => this.#tick(), this.options.interval);
    this.#intervalTimer.unref();
  }

  /** Any message from the peer proves it is alive. */
  messageReceived(): void {
    this.#seenPacket = true;
    if (this.#timeoutTimer) {
      clearTimeout(this.#timeoutTimer);
      this.#timeoutTimer = undefined;
    }
  }

  /** Stops every timer. */
  stop(): void {
    if (this.#intervalTimer) clearInterval(this.#intervalTimer);
    if (this.#timeoutTimer) clearTimeout(this.#timeoutTimer);
    this.#intervalTimer = undefined;
    this.#timeoutTimer = undefined;
  }

  #tick(): void {
    if (!this.#seenPacket && !this.#timeoutTimer) {
      this.sendPing();
      this.#timeoutTimer = setTimeout(() => {
        this.#timeoutTimer = undefined;
        this.stop();
        this.onTimeout();
      }, this.options.timeout);
      this.#timeoutTimer.unref();
    }
    this.#seenPacket = false;
  }
}
