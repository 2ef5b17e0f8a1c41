/**
 * Attack class: third-party script on the server's own origin (issue 12, item 10). sockjs's iframe transports load
 * a page from the server, `<prefix>/iframe.html`, which by sockjs's default pulls sockjs-client from a public CDN
 * into the server's origin: whoever controls that CDN path runs script with the origin's cookies. Expected: the
 * page loads sockjs-client from the server itself (the npm package's build of the version Meteor's client
 * vendors, 1.6.1), so a Meteor client that falls back to `iframe-xhr-polling` still connects, and nothing is
 * fetched from anywhere else.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { bundleForBrowser, launchChromium, requireChromium } from '../browser/support.js';
import { type AttackTarget, startTarget } from './fixtures/target.js';

/** The page's client: sockjs-client 1.6.1 limited to the iframe transport, sending DDP `connect`. */
const PAGE_SCRIPT = `
import SockJS from 'sockjs-client';
window.connectThroughIframe = (url) => new Promise((resolve) => {
  const socket = new SockJS(url, null, { transports: ['iframe-xhr-polling'] });
  socket.onopen = () => socket.send(JSON.stringify({ msg: 'connect', version: '1', support: ['1'] }));
  socket.onmessage = (event) => {
    if (String(event.data).includes('"connected"')) resolve({ transport: socket.transport, message: event.data });
  };
  socket.onclose = (event) => resolve({ closed: event.code, reason: event.reason });
});
`;

describe('attack: a CDN script in the SockJS iframe page', function () {
  this.timeout(60_000);
  let target: AttackTarget;

  before(async () => {
    target = await startTarget();
  });

  after(async () => {
    await target?.close();
  });

  it('serves iframe.html with a same-origin sockjs-client of the version Meteor vendors', async () => {
    const html = await (await fetch(`${target.httpUrl}/sockjs/iframe.html`)).text();
    const src = /<script src="([^"]+)"><\/script>/.exec(html)?.[1];
    assert.equal(src, '/sockjs/sockjs-client-1.6.1.min.js');
    const script = await fetch(`${target.httpUrl}${src}`);
    assert.equal(script.status, 200);
    assert.match(script.headers.get('content-type') ?? '', /^application\/javascript/);
    const text = await script.text();
    assert.match(text, /bootstrap_iframe/);
    assert.match(text, /"1\.6\.1"/);
  });

  describe('in Chromium', () => {
    let browser: Browser | undefined;
    let pageServer: Server | undefined;

    before(async function () {
      requireChromium(this);
      const bundle = await bundleForBrowser(PAGE_SCRIPT);
      // The page comes from another origin, as a Meteor bundle served by a CDN or another host would.
      pageServer = createServer((_request, response) => {
        response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        response.end(`<!doctype html><html><head><script>${bundle}</script></head><body></body></html>`);
      });
      await new Promise<void>((resolve) => pageServer?.listen(0, '127.0.0.1', resolve));
      browser = await launchChromium();
    });

    after(async () => {
      await browser?.close();
      await new Promise((resolve) => pageServer?.close(resolve));
    });

    it('connects over iframe-xhr-polling, fetching nothing from outside the two origins', async () => {
      const context = await browser!.newContext();
      const requested: string[] = [];
      context.on('request', (request) => requested.push(request.url()));
      const page = await context.newPage();
      const pagePort = (pageServer!.address() as AddressInfo).port;
      await page.goto(`http://127.0.0.1:${pagePort}/`);
      const outcome = await page.evaluate(
        (url) =>
          (window as unknown as { connectThroughIframe(url: string): Promise<unknown> }).connectThroughIframe(
            url,
          ),
        `${target.httpUrl}/sockjs`,
      );
      await context.close();
      const outside = requested.filter((url) => !url.startsWith('http://127.0.0.1:'));
      assert.deepEqual(outside, []);
      assert.deepEqual(
        { transport: (outcome as { transport?: unknown }).transport },
        { transport: 'iframe-xhr-polling' },
        JSON.stringify(outcome),
      );
    });
  });
});
