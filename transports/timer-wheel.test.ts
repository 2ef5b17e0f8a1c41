/** The shared timer wheel (no sockets): fires once, never early, reschedules and cancels in O(1). */
import assert from 'node:assert/strict';
import { TimerWheel, WheelEntry } from './timer-wheel.js';

class Recorder extends WheelEntry {
  readonly fired: number[] = [];
  constructor(readonly onFire: (self: Recorder) => void = () => {}) {
    super();
  }
  override fire(now: number): void {
    this.fired.push(now);
    this.onFire(this);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('TimerWheel', () => {
  it('fires each entry once, not before its delay, and stops its interval when empty', async () => {
    const wheel = new TimerWheel({ tickMs: 5, slots: 8 });
    const started = performance.now();
    const a = new Recorder();
    const b = new Recorder();
    wheel.schedule(a, 20);
    wheel.schedule(b, 60); // longer than one turn (8 × 5 ms): takes a second turn
    assert.equal(wheel.size, 2);
    await sleep(150);
    assert.equal(a.fired.length, 1);
    assert.equal(b.fired.length, 1);
    assert.ok(a.fired[0]! - started >= 20);
    assert.ok(b.fired[0]! - started >= 60);
    assert.equal(wheel.size, 0);
  });

  it('cancels, reschedules (moving the deadline) and lets an entry reschedule itself', async () => {
    const wheel = new TimerWheel({ tickMs: 5, slots: 16 });
    const cancelled = new Recorder();
    const moved = new Recorder();
    let left = 3;
    const repeating = new Recorder((self) => {
      if (--left > 0) wheel.schedule(self, 10);
    });
    wheel.schedule(cancelled, 10);
    wheel.schedule(moved, 10);
    wheel.schedule(repeating, 10);
    wheel.cancel(cancelled);
    wheel.schedule(moved, 200);
    await sleep(100);
    assert.equal(cancelled.fired.length, 0);
    assert.equal(moved.fired.length, 0);
    assert.equal(repeating.fired.length, 3);
    wheel.close();
    assert.equal(wheel.size, 0);
  });

  it('reports a throwing entry and keeps firing the others', async () => {
    const errors: unknown[] = [];
    const wheel = new TimerWheel({ tickMs: 5, onError: (e) => errors.push(e) });
    const bad = new Recorder(() => {
      throw new Error('boom');
    });
    const good = new Recorder();
    wheel.schedule(bad, 10);
    wheel.schedule(good, 10);
    await sleep(60);
    assert.equal(errors.length, 1);
    assert.equal(good.fired.length, 1);
  });
});
