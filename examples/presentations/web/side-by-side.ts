/// <reference lib="dom" />
/**
 * The side-by-side page's browser code (`side-by-side.html`, bundled by `../web-client.ts`): three clients of three
 * protocols on one pgrt server, each keeping its own live list of the same `presentations` rows.
 * - DDP: npm `simpleddp` on npm `sockjs-client` (as the demo page, `client.ts`): publication `presentations`,
 *   methods `presentations.add` / `presentations.update`.
 * - WAMP: plain Autobahn|JS (`autobahn-browser`, loaded by a script tag as the global `autobahn`) on realm
 *   `realm1` at `/ws`: the data messages on the private topic `pgrt.session.<id>` after a `pgrt.subscribe`
 *   call, the same methods called as procedures.
 * - Supabase Realtime: npm `@supabase/supabase-js` (`createClient(location.origin, 'anon')`), `postgres_changes`
 *   on `public.presentations`. supabase-js has no method call and pgrt serves no PostgREST, so this pane receives
 *   changes only: it starts empty, and its add and edit forms go through the DDP client.
 */
import { createClient, type RealtimePostgresChangesPayload } from '@supabase/supabase-js';
import type autobahn from 'autobahn';
import simpleDDP from 'simpleddp';
import SockJS from 'sockjs-client';
import { Pane, type Row, text } from './pane.js';

/** What the browser test reads. */
interface SideBySideHandle {
  /** Resolves once all three clients are subscribed (DDP ready, WAMP `ready`, supabase "Subscribed to PostgreSQL"). */
  readonly ready: Promise<void>;
}

declare global {
  interface Window {
    pgrtSideBySide: SideBySideHandle;
  }
}

/** Meteor's browser client whitelist (`socket-stream-client/browser.js`): no streaming transports. */
const TRANSPORTS = ['websocket', 'xdr-polling', 'xhr-polling', 'iframe-xhr-polling', 'jsonp-polling'];

/** A row from a document's fields as DDP, WAMP and supabase-js deliver them. */
function rowOf(id: string, fields: Readonly<Record<string, unknown>>): Row {
  return { id, title: text(fields.title), subtitle: text(fields.subtitle) || null };
}

/** Resolved by `settle()`; the promise never rejects (failures are shown in the pane). */
function signal(): { readonly promise: Promise<void>; readonly settle: () => void } {
  let settle = () => {};
  const promise = new Promise<void>((resolve) => {
    settle = resolve;
  });
  return { promise, settle };
}

function startDdp(): { readonly client: simpleDDP; readonly ready: Promise<void> } {
  let socket: (WebSocket & { transport?: string }) | undefined;
  /** simpleddp's socket factory (it calls `new`): a SockJS session, remembered to show its transport. */
  class SockJsSocket {
    constructor(url: string) {
      socket = new SockJS(url, undefined, { transports: TRANSPORTS });
      // biome-ignore lint/correctness/noConstructorReturn: simpleddp's `new` must yield the SockJS socket itself
      return socket;
    }
  }
  const client = new simpleDDP({
    endpoint: `${location.origin}/sockjs`,
    SocketConstructor: SockJsSocket,
    reconnectInterval: 1000,
  });
  const pane = new Pane('ddp', {
    add: (title, subtitle) => client.call('presentations.add', { title, subtitle }),
    update: (id, title, subtitle) => client.call('presentations.update', id, { title, subtitle }),
  });
  const refresh = () =>
    pane.replaceAll(
      client
        .collection('presentations')
        .fetch()
        .map((doc) => rowOf(doc.id, doc)),
    );
  for (const event of ['added', 'changed', 'removed']) {
    client.on(event, (message) => {
      if (message.collection === 'presentations') refresh();
    });
  }
  client.on('connected', () => pane.status('connected', `live · ${socket?.transport ?? 'sockjs'}`));
  client.on('disconnected', () => pane.status('connecting', 'reconnecting…'));
  const ready = (async () => {
    await client.connect();
    await client.subscribe('presentations').ready();
    refresh();
  })();
  ready.catch((error: unknown) => pane.showError(error));
  return { client, ready };
}

function startWamp(): Promise<void> {
  const ab = (window as unknown as { autobahn: typeof autobahn }).autobahn;
  const ready = signal();
  let session: autobahn.Session | undefined;
  const current = (): autobahn.Session => {
    if (!session) throw new Error('WAMP: not connected');
    return session;
  };
  /** Autobahn rejects with an `autobahn.Error` (`error` URI, `kwargs.reason`); show the reason. */
  const call = async (procedure: string, args: unknown[]) => {
    try {
      return await current().call(procedure, args);
    } catch (error) {
      const e = error as { error?: string; kwargs?: { reason?: string } };
      throw new Error(e.kwargs?.reason ?? e.error ?? String(error));
    }
  };
  const pane = new Pane('wamp', {
    add: (title, subtitle) => call('presentations.add', [{ title, subtitle }]),
    update: (id, title, subtitle) => call('presentations.update', [id, { title, subtitle }]),
  });
  const onData = (_args: unknown, kwargs: Readonly<Record<string, unknown>>) => {
    const id = text(kwargs.id);
    const fields = (kwargs.fields ?? {}) as Readonly<Record<string, unknown>>;
    if (kwargs.msg === 'ready') ready.settle();
    if (kwargs.collection !== 'presentations') return;
    if (kwargs.msg === 'added') pane.put(rowOf(id, fields));
    else if (kwargs.msg === 'removed') pane.remove(id);
    else if (kwargs.msg === 'changed') {
      const cleared = Array.isArray(kwargs.cleared) ? kwargs.cleared : [];
      const patch: { title?: string; subtitle?: string | null } = {};
      if ('title' in fields) patch.title = text(fields.title);
      if ('subtitle' in fields) patch.subtitle = text(fields.subtitle) || null;
      if (cleared.includes('subtitle')) patch.subtitle = null;
      pane.patch(id, patch);
    }
  };
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const connection = new ab.Connection({ url: `${scheme}://${location.host}/ws`, realm: 'realm1' });
  connection.onopen = (opened) => {
    session = opened;
    pane.replaceAll([]);
    pane.status('connected', `live · realm1 · session ${opened.id}`);
    const subscribed = (async () => {
      await opened.subscribe(`pgrt.session.${opened.id}`, (args, kwargs) => onData(args, kwargs));
      await opened.call('pgrt.subscribe', ['presentations']);
    })();
    subscribed.catch((error: unknown) => pane.showError(error));
  };
  connection.onclose = (reason) => {
    session = undefined;
    pane.status('connecting', `reconnecting… (${reason})`);
    return false;
  };
  connection.open();
  return ready.promise;
}

function startSupabase(ddp: simpleDDP): Promise<void> {
  const ready = signal();
  const pane = new Pane('supabase', {
    add: (title, subtitle) => ddp.call('presentations.add', { title, subtitle }),
    update: (id, title, subtitle) => ddp.call('presentations.update', id, { title, subtitle }),
  });
  const client = createClient(location.origin, 'anon', {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
  });
  const onChange = (change: RealtimePostgresChangesPayload<Record<string, unknown>>) => {
    if (change.eventType === 'DELETE') pane.remove(text(change.old.id));
    else pane.put(rowOf(text(change.new.id), change.new));
  };
  client
    .channel('side-by-side')
    .on('postgres_changes', { event: '*', schema: 'public', table: 'presentations' }, onChange)
    .on('system', {}, (message: { extension?: string; status?: string; message?: string }) => {
      if (message.extension !== 'postgres_changes') return;
      if (message.status === 'ok') ready.settle();
      else pane.showError(message.message ?? 'postgres_changes refused');
    })
    .subscribe((status, error) => {
      if (status === 'SUBSCRIBED') pane.status('connected', 'live · postgres_changes');
      else pane.status('connecting', status.toLowerCase().replace('_', ' '));
      if (error) pane.showError(error);
    });
  return ready.promise;
}

const ddp = startDdp();
const ready = Promise.all([ddp.ready, startWamp(), startSupabase(ddp.client)]).then(() => undefined);
window.pgrtSideBySide = { ready };
