import assert from 'node:assert/strict';
import { OutboundLog, ParkedSessions, type Resumable } from './resumption.js';

/** The resumption bookkeeping (resumption.ts): message positions, replay, and the grace period. */
describe('DDP resumption bookkeeping', () => {
  describe('OutboundLog', () => {
    /** Records `texts` in order; names starting with `C` stand for `connected` messages. */
    const recordAll = (log: OutboundLog, texts: readonly string[]): void => {
      for (const text of texts) {
        if (text.startsWith('C')) log.recordConnected();
        else log.record(text);
      }
    };

    it('counts every recorded message and keeps only the last `capacity` frames', () => {
      const log = new OutboundLog(3);
      recordAll(log, ['C', 'a', 'b', 'd', 'e']);
      assert.equal(log.sent, 5);
      assert.equal(log.kept, 3);
      // Frames 3..5 are kept: a client that received 2, 3, 4 or 5 can be served; 0, 1 and 6 cannot.
      assert.deepEqual(
        [0, 1, 2, 3, 4, 5, 6].map((n) => log.canResume(n)),
        [false, false, true, true, true, true, false],
      );
      assert.equal(log.canResume(2.5), false);
      assert.equal(log.canResume(-1), false);
    });

    it('replays exactly the frames after receivedCount, after the new connected', () => {
      const log = new OutboundLog(100);
      recordAll(log, ['C1', 'added x', 'ready', 'added y', 'changed x']);
      assert.deepEqual(log.resume(3), ['added y', 'changed x']);
      // C2 took position 4 and the replayed frames 5 and 6: the client, having counted C2 and the replay, is at 6.
      assert.equal(log.sent, 6);
      assert.deepEqual(log.resume(6), []);
      assert.equal(log.sent, 7);
    });

    it('never replays an earlier connected, and renumbers when the client missed it', () => {
      const log = new OutboundLog(100);
      recordAll(log, ['C1', 'a', 'b']);
      assert.deepEqual(log.resume(1), ['a', 'b']); // positions: C1 1, C2 2, a 3, b 4
      // The client lost the socket again before C2 arrived: it still reports 1.
      assert.deepEqual(log.resume(1), ['a', 'b']);
      assert.equal(log.sent, 4);
      // It received C3 and a only.
      log.record('c');
      assert.deepEqual(log.resume(3), ['b', 'c']);
      assert.equal(log.sent, 6);
    });

    it('refuses (changing nothing) a count it cannot serve', () => {
      const log = new OutboundLog(2);
      recordAll(log, ['C1', 'a', 'b', 'c']);
      assert.equal(log.resume(1), undefined);
      assert.equal(log.resume(5), undefined);
      assert.equal(log.sent, 4);
      assert.deepEqual(log.resume(2), ['b', 'c']);
    });

    it('keeps at most maxBytes bytes (UTF-8) of frames, forgetting the oldest', () => {
      const log = new OutboundLog(100, 10);
      recordAll(log, ['C1', 'aaaa', 'bbbb', 'éé']); // 4 + 4 + 4 bytes: 'aaaa' is forgotten
      assert.equal(log.sent, 4);
      assert.equal(log.kept, 2);
      assert.equal(log.keptBytes, 8);
      assert.equal(log.canResume(1), false);
      assert.deepEqual(log.resume(2), ['bbbb', 'éé']);
      assert.equal(log.keptBytes, 8);
      assert.ok(log.keepsAfter(2) && !log.keepsAfter(1));
    });

    it('forgets a frame larger than maxBytes at once, with everything before it', () => {
      const log = new OutboundLog(100, 10);
      recordAll(log, ['C1', 'a', 'x'.repeat(11)]);
      assert.equal(log.kept, 0);
      assert.equal(log.keptBytes, 0);
      assert.equal(log.sent, 3);
      // Only a client that received the large frame can resume; one that did not, cannot.
      assert.equal(log.canResume(2), false);
      assert.deepEqual(log.resume(3), []);
      log.record('b');
      assert.deepEqual(log.resume(4), ['b']);
    });
  });

  describe('ParkedSessions', () => {
    class Fake implements Resumable {
      ended = 0;
      constructor(readonly id: string) {}
      end(): void {
        this.ended += 1;
      }
    }
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

    it('ends a session whose grace period passes, and forgets it', async () => {
      const parked = new ParkedSessions<Fake>(20);
      const session = new Fake('s1');
      parked.park(session);
      assert.equal(parked.size, 1);
      await sleep(60);
      assert.equal(session.ended, 1);
      assert.equal(parked.size, 0);
      assert.equal(parked.take('s1'), undefined);
    });

    it('hands a session back without ending it, and its timer no longer fires', async () => {
      const parked = new ParkedSessions<Fake>(20);
      const session = new Fake('s1');
      parked.park(session);
      assert.equal(parked.take('s1'), session);
      await sleep(60);
      assert.equal(session.ended, 0);
    });

    it('ends dropped sessions, every session on close, and parks none after it', () => {
      const parked = new ParkedSessions<Fake>(10_000);
      const [a, b, c] = [new Fake('a'), new Fake('b'), new Fake('c')];
      parked.park(a);
      parked.park(b);
      parked.drop('a');
      assert.equal(a.ended, 1);
      parked.close();
      assert.equal(b.ended, 1);
      parked.park(c);
      assert.equal(c.ended, 1);
      assert.equal(parked.size, 0);
    });
  });
});
