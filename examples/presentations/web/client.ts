/// <reference lib="dom" />
/**
 * The demo page's browser code (bundled by `../web-client.ts` with esbuild): a live list of presentations over
 * DDP with npm `simpleddp` on npm `sockjs-client`, the way a Meteor browser client connects (SockJS with Meteor's
 * transport whitelist, so it falls back to xhr-polling where WebSocket upgrades are blocked). It reads the server's
 * address from `__meteor_runtime_config__` and reloads itself when the served bundle changes (hot code push).
 */
import simpleDDP from 'simpleddp';
import SockJS from 'sockjs-client';

interface ArchVersions {
  readonly versionRefreshable?: string;
  readonly versionNonRefreshable?: string;
}

interface RuntimeConfig {
  readonly DDP_DEFAULT_CONNECTION_URL: string;
  readonly autoupdate?: { readonly versions?: Readonly<Record<string, ArchVersions>> };
}

/** What the browser tests read. */
interface DemoHandle {
  /** The SockJS transport in use (`websocket`, `xhr-polling`, …) once connected. */
  transport(): string | undefined;
  /** Resolves once the presentations subscription is ready. */
  readonly ready: Promise<void>;
}

declare global {
  interface Window {
    __meteor_runtime_config__: RuntimeConfig;
    pgrtDemo: DemoHandle;
  }
}

/** Meteor's browser client whitelist (`socket-stream-client/browser.js`): no streaming transports. */
const TRANSPORTS = ['websocket', 'xdr-polling', 'xhr-polling', 'iframe-xhr-polling', 'jsonp-polling'];

const config = window.__meteor_runtime_config__;
const base = config.DDP_DEFAULT_CONNECTION_URL.replace(/\/+$/, '');
let socket: (WebSocket & { transport?: string }) | undefined;
/** simpleddp's socket factory (it calls `new`): a SockJS session, remembered to show its transport. */
class SockJsSocket {
  constructor(url: string) {
    socket = new SockJS(url, undefined, { transports: TRANSPORTS });
    // biome-ignore lint/correctness/noConstructorReturn: simpleddp's `new` must yield the SockJS socket itself
    return socket;
  }
}

const ddp = new simpleDDP({
  endpoint: `${base}/sockjs`,
  SocketConstructor: SockJsSocket,
  reconnectInterval: 1000,
});
const element = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const list = element<HTMLUListElement>('list');
const status = element<HTMLParagraphElement>('status');
const error = element<HTMLParagraphElement>('error');
const editing = new Set<string>();

function showError(reason: unknown): void {
  const wire = reason as { reason?: string; message?: string };
  error.textContent = wire.reason ?? wire.message ?? String(reason);
  error.hidden = false;
}

/** Calls a method without waiting; a failure is shown on the page, `onDone` runs after a success. */
function call(method: string, params: unknown[], onDone?: () => void): void {
  error.hidden = true;
  ddp.call(method, ...params).then(() => onDone?.(), showError);
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function row(doc: simpleDDP.Document): HTMLLIElement {
  const li = document.createElement('li');
  li.dataset.id = doc.id;
  if (editing.has(doc.id)) {
    const form = document.createElement('form');
    form.innerHTML =
      '<input name="title" maxlength="200" required><input name="subtitle" maxlength="1000">' +
      '<button type="submit">Save</button><button type="button" class="quiet">Cancel</button>';
    const [title, subtitle] = form.querySelectorAll('input');
    if (title) title.value = text(doc.title);
    if (subtitle) subtitle.value = text(doc.subtitle);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      editing.delete(doc.id);
      call('presentations.update', [
        doc.id,
        { title: title?.value ?? '', subtitle: subtitle?.value || null },
      ]);
      render();
    });
    form.querySelector('button.quiet')?.addEventListener('click', () => {
      editing.delete(doc.id);
      render();
    });
    li.append(form);
    return li;
  }
  const body = document.createElement('div');
  body.className = 'text';
  const title = document.createElement('div');
  title.className = 'title';
  title.textContent = text(doc.title);
  const subtitle = document.createElement('div');
  subtitle.className = 'subtitle';
  subtitle.textContent = text(doc.subtitle);
  body.append(title, subtitle);
  const edit = document.createElement('button');
  edit.className = 'quiet edit';
  edit.textContent = 'Edit';
  edit.addEventListener('click', () => {
    editing.add(doc.id);
    render();
  });
  const remove = document.createElement('button');
  remove.className = 'quiet remove';
  remove.textContent = 'Delete';
  remove.setAttribute('aria-label', `Delete ${text(doc.title)}`);
  remove.addEventListener('click', () => call('presentations.remove', [doc.id]));
  li.append(body, edit, remove);
  return li;
}

let scheduled = false;
/** Re-renders on the next task, after simpleddp has applied every message of the current batch. */
function render(): void {
  if (scheduled) return;
  scheduled = true;
  setTimeout(() => {
    scheduled = false;
    const docs = ddp.collection('presentations').fetch();
    docs.sort((a, b) => text(a.title).localeCompare(text(b.title)));
    // A row being edited keeps its form (and what was typed) while other changes stream in.
    const rows = docs.map((doc) => {
      const existing = list.querySelector<HTMLLIElement>(`li[data-id="${CSS.escape(doc.id)}"]`);
      return editing.has(doc.id) && existing?.querySelector('form') ? existing : row(doc);
    });
    list.replaceChildren(...rows);
    element<HTMLParagraphElement>('empty').hidden = docs.length > 0;
  }, 0);
}

/** Hot code push: reload when the served code changes; swap the stylesheet when only CSS changed. */
function checkVersions(): void {
  const current = config.autoupdate?.versions?.['web.browser'];
  const served = ddp
    .collection('meteor_autoupdate_clientVersions')
    .fetch()
    .find((d) => d.id === 'web.browser');
  if (!current || !served) return;
  if (served.versionNonRefreshable !== current.versionNonRefreshable) {
    location.reload();
    return;
  }
  if (served.versionRefreshable !== current.versionRefreshable) {
    const link = document.querySelector<HTMLLinkElement>('link[rel="stylesheet"]');
    if (link) link.href = `/style.css?v=${text(served.versionRefreshable).slice(0, 12)}`;
    Object.assign(current, { versionRefreshable: served.versionRefreshable });
  }
}

for (const event of ['added', 'changed', 'removed']) {
  ddp.on(event, (message) => {
    if (message.collection === 'meteor_autoupdate_clientVersions') checkVersions();
    else render();
  });
}
ddp.on('connected', () => {
  status.dataset.state = 'connected';
  status.textContent = `live · ${socket?.transport ?? 'sockjs'}`;
});
ddp.on('disconnected', () => {
  status.dataset.state = 'connecting';
  status.textContent = 'reconnecting…';
});

element<HTMLFormElement>('add').addEventListener('submit', (event) => {
  event.preventDefault();
  const form = event.currentTarget as HTMLFormElement;
  const data = new FormData(form);
  const subtitle = String(data.get('subtitle') ?? '');
  call('presentations.add', [{ title: String(data.get('title') ?? ''), subtitle: subtitle || null }], () =>
    form.reset(),
  );
});

const ready = (async () => {
  await ddp.connect();
  ddp.subscribe('meteor_autoupdate_clientVersions');
  await ddp.subscribe('presentations').ready();
  render();
})();
ready.catch(showError);

window.pgrtDemo = { transport: () => socket?.transport, ready };
