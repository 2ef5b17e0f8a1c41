/**
 * Transport cases (ddp.md checklist 7, 9): the raw `/websocket` endpoint carries bare DDP JSON, with no SockJS
 * framing, and the client speaks first. The SockJS cases (1–6, 8) are listed in `skipped.ts`.
 */
import assert from 'node:assert/strict';
import type { ConformanceCase } from '../case.js';
import type { DdpTestClient } from '../client.js';

/** The `/websocket/?x=1` form of a `/websocket` URL (trailing slash and a query string). */
export function queryVariant(url: string): string {
  const parsed = new URL(url);
  if (!parsed.pathname.endsWith('/')) parsed.pathname += '/';
  parsed.searchParams.set('x', '1');
  return parsed.toString();
}

function assertUnframed(client: DdpTestClient, url: string): void {
  const frames = client.log.filter((entry) => entry.kind === 'frame');
  assert.deepEqual(
    frames.map((entry) => (entry.kind === 'frame' ? entry.raw : '')),
    [],
    `${url}: every server frame must be one bare DDP JSON object (no SockJS "o"/"a[…]"/"h" frames)`,
  );
}

/** Transport cases. */
export const transportCases: ConformanceCase[] = [
  {
    id: 'transport.07',
    group: 'transport',
    title: 'raw /websocket and /websocket/?x=1 carry unframed DDP JSON',
    checklist: [7],
    async run(ctx) {
      for (const url of [ctx.url, queryVariant(ctx.url)]) {
        const client = await ctx.open({ url });
        await client.connect('1', ['1']);
        client.send({ msg: 'ping', id: 'raw' });
        assert.deepEqual(await client.next({ msg: 'pong' }), { msg: 'pong', id: 'raw' });
        assertUnframed(client, url);
        await client.close();
      }
    },
  },
  {
    id: 'transport.09',
    group: 'transport',
    title: 'the client speaks first: connect sent on open, before any server frame',
    checklist: [9],
    async run(ctx) {
      const client = await ctx.open();
      // Sent in the open callback's turn: the server has had no chance to say anything we waited for.
      client.send({ msg: 'connect', version: '1', support: ['1', 'pre2', 'pre1'] });
      const connected = await client.next((m) => m.msg === 'connected' || m.msg === 'failed');
      assert.equal(connected.msg, 'connected', JSON.stringify(connected));
      assertUnframed(client, ctx.url);
    },
  },
];
