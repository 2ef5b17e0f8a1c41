/// <reference lib="dom" />
/**
 * One pane of the side-by-side page (`side-by-side.ts`): a live list of presentations kept by one protocol's
 * client, with an add form and an Edit button per row. The pane only renders; its client puts and removes rows
 * and performs the adds and edits through {@link PaneActions}.
 */

/** A presentation as every pane shows it. */
export interface Row {
  readonly id: string;
  readonly title: string;
  readonly subtitle: string | null;
}

/** How a pane's add form and edit forms reach the server. */
export interface PaneActions {
  add(title: string, subtitle: string | null): Promise<unknown>;
  update(id: string, title: string, subtitle: string | null): Promise<unknown>;
}

/** A string field of a document as received (anything else reads as absent). */
export function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

export class Pane {
  readonly #rows = new Map<string, Row>();
  readonly #editing = new Set<string>();
  readonly #list: HTMLUListElement;
  readonly #status: HTMLElement;
  readonly #error: HTMLElement;
  #scheduled = false;

  /** Binds to the `<section>` with id `id` (its `.status`, `.error`, `form.add` and `ul.list`). */
  readonly #actions: PaneActions;

  constructor(id: string, actions: PaneActions) {
    this.#actions = actions;
    const root = document.getElementById(id);
    if (!root) throw new Error(`no pane #${id}`);
    const find = <T extends HTMLElement>(selector: string): T => {
      const found = root.querySelector<T>(selector);
      if (!found) throw new Error(`pane #${id} has no ${selector}`);
      return found;
    };
    this.#list = find<HTMLUListElement>('ul.list');
    this.#status = find('.status');
    this.#error = find('.error');
    const add = find<HTMLFormElement>('form.add');
    add.addEventListener('submit', (event) => {
      event.preventDefault();
      const data = new FormData(add);
      const subtitle = String(data.get('subtitle') ?? '');
      this.#run(this.#actions.add(String(data.get('title') ?? ''), subtitle || null), () => add.reset());
    });
  }

  /** Shows the connection state (`connected` green, `connecting` orange) and a short label. */
  status(state: 'connected' | 'connecting', label: string): void {
    this.#status.dataset.state = state;
    this.#status.textContent = label;
  }

  /** Shows a failure (a refused call, a refused join) under the add form. */
  showError(reason: unknown): void {
    const wire = reason as { reason?: string; message?: string; error?: string };
    this.#error.textContent = wire.reason ?? wire.message ?? wire.error ?? String(reason);
    this.#error.hidden = false;
  }

  /** Adds or replaces a row. */
  put(row: Row): void {
    this.#rows.set(row.id, row);
    this.#render();
  }

  /** Changes some fields of a known row (an unknown id is ignored). */
  patch(id: string, fields: Partial<Omit<Row, 'id'>>): void {
    const row = this.#rows.get(id);
    if (row) this.put({ ...row, ...fields });
  }

  remove(id: string): void {
    this.#rows.delete(id);
    this.#render();
  }

  /** Replaces every row (a snapshot, or a reconnect starting over). */
  replaceAll(rows: readonly Row[]): void {
    this.#rows.clear();
    for (const row of rows) this.#rows.set(row.id, row);
    this.#render();
  }

  #run(call: Promise<unknown>, onDone?: () => void): void {
    this.#error.hidden = true;
    call.then(
      () => onDone?.(),
      (reason: unknown) => this.showError(reason),
    );
  }

  /** Re-renders on the next task, after the client applied every message of the current batch. */
  #render(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setTimeout(() => {
      this.#scheduled = false;
      const rows = [...this.#rows.values()].sort((a, b) => a.title.localeCompare(b.title));
      // A row being edited keeps its form (and what was typed) while other changes stream in.
      const items = rows.map((row) => {
        const existing = this.#list.querySelector<HTMLLIElement>(`li[data-id="${CSS.escape(row.id)}"]`);
        return this.#editing.has(row.id) && existing?.querySelector('form') ? existing : this.#item(row);
      });
      this.#list.replaceChildren(...items);
    }, 0);
  }

  #item(row: Row): HTMLLIElement {
    const li = document.createElement('li');
    li.dataset.id = row.id;
    if (this.#editing.has(row.id)) {
      li.append(this.#editForm(row));
      return li;
    }
    const body = document.createElement('div');
    body.className = 'text';
    const title = document.createElement('div');
    title.className = 'title';
    title.textContent = row.title;
    const subtitle = document.createElement('div');
    subtitle.className = 'subtitle';
    subtitle.textContent = row.subtitle ?? '';
    body.append(title, subtitle);
    const edit = document.createElement('button');
    edit.className = 'quiet edit';
    edit.textContent = 'Edit';
    edit.addEventListener('click', () => {
      this.#editing.add(row.id);
      this.#render();
    });
    li.append(body, edit);
    return li;
  }

  #editForm(row: Row): HTMLFormElement {
    const form = document.createElement('form');
    form.innerHTML =
      '<input name="title" maxlength="200" required><input name="subtitle" maxlength="1000">' +
      '<button type="submit">Save</button><button type="button" class="quiet">Cancel</button>';
    const [title, subtitle] = form.querySelectorAll('input');
    if (title) title.value = row.title;
    if (subtitle) subtitle.value = row.subtitle ?? '';
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.#editing.delete(row.id);
      this.#run(this.#actions.update(row.id, title?.value ?? '', subtitle?.value || null));
      this.#render();
    });
    form.querySelector('button.quiet')?.addEventListener('click', () => {
      this.#editing.delete(row.id);
      this.#render();
    });
    return form;
  }
}
