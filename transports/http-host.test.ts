/**
 * The host's listening socket: its accept queue is what the caller asks for (capped by the kernel at
 * net.core.somaxconn), and by default as deep as the kernel allows. Read back from the kernel with `ss` (Linux;
 * skipped where `ss` is missing): a listening socket's Send-Q is its accept queue's length.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { DEFAULT_LISTEN_BACKLOG, HttpHost } from './http-host.js';

/** The accept queue length of the socket listening on `port`, as `ss` reports it; undefined without `ss`. */
function acceptQueueOf(port: number): number | undefined {
  let out: string;
  try {
    out = execFileSync('ss', ['-ltnH', `sport = :${port}`], { encoding: 'utf8' });
  } catch {
    return undefined;
  }
  const fields = out.trim().split(/\s+/);
  assert.equal(fields[0], 'LISTEN', `ss shows the listener: ${out}`);
  return Number(fields[2]);
}

function somaxconn(): number {
  return Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim());
}

describe('HttpHost: listen backlog', () => {
  let host: HttpHost | undefined;

  afterEach(async () => {
    await host?.close();
    host = undefined;
  });

  it('listens with the accept queue it is given', async function () {
    host = new HttpHost();
    const port = await host.listen(0, '127.0.0.1', 100);
    const queue = acceptQueueOf(port);
    if (queue === undefined) this.skip();
    assert.equal(queue, Math.min(100, somaxconn()));
  });

  it("asks for as deep a queue as the kernel allows by default (not Node's 511)", async function () {
    host = new HttpHost();
    const port = await host.listen(0, '127.0.0.1');
    const queue = acceptQueueOf(port);
    if (queue === undefined) this.skip();
    assert.equal(queue, Math.min(DEFAULT_LISTEN_BACKLOG, somaxconn()));
  });
});
