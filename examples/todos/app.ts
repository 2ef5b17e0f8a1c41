/**
 * The todos example (in the spirit of Meteor's): lists that belong to users, public lists (no owner) everyone
 * sees, private lists only their owner sees, and todos in them. Every publication filters by `ctx.userId`; every
 * write is a guarded method that checks the list is the caller's to change. Used by the accounts tests.
 *
 * - publication `lists`: public lists plus the caller's private ones (live: a login or logout reruns it).
 * - publication `todos(listId)`: the list's todos if the caller may see the list, else nothing.
 * - methods (login required): `lists.create(name)` → a private list; `lists.makePrivate(listId)`;
 *   `todos.add(listId, text)`; `todos.setChecked(todoId, checked)`; role `admin`: `lists.createPublic(name)`.
 */
import { z } from 'zod';
import type { Accounts } from '../../core/accounts/accounts.js';
import { App } from '../../core/app.js';
import type { MethodContext } from '../../core/contexts.js';
import type { Queryable } from '../../core/database/database.js';
import { AccessDeniedError } from '../../core/guards.js';

/** Creates the example's tables (idempotent). */
export async function migrateTodos(db: Queryable): Promise<void> {
  await db.query(`
    CREATE TABLE IF NOT EXISTS todo_lists (
      id text PRIMARY KEY, name text NOT NULL, owner_id text, created_at timestamptz NOT NULL DEFAULT now());
    CREATE TABLE IF NOT EXISTS todos (
      id text PRIMARY KEY, list_id text NOT NULL REFERENCES todo_lists (id) ON DELETE CASCADE,
      text text NOT NULL, checked boolean NOT NULL DEFAULT false, created_at timestamptz NOT NULL DEFAULT now());
  `);
}

/** Throws 403 "Access denied" unless the caller may change list `listId` (public, or theirs). */
async function writableList(ctx: MethodContext, listId: string): Promise<void> {
  const list = await ctx.findOne('lists', listId);
  if (!list || (list.owner_id != null && list.owner_id !== ctx.userId)) throw new AccessDeniedError();
}

/** The todos app on top of `accounts` (registered here with `app.use`). */
export function todosApp(accounts: Accounts): App {
  return new App()
    .use(accounts)
    .collection('lists', { table: 'todo_lists' })
    .collection('todos', { table: 'todos' })
    .publish('lists', (ctx) =>
      ctx.find(
        'lists',
        ctx.userId === null ? { owner_id: null } : { $or: [{ owner_id: null }, { owner_id: ctx.userId }] },
        { sort: { created_at: 1 }, fields: { name: 1, owner_id: 1 } },
      ),
    )
    .publish('todos', { params: [z.string()] }, (ctx, listId) =>
      ctx.sql(
        'todos',
        `SELECT t.id, t.list_id, t.text, t.checked FROM todos t JOIN todo_lists l ON l.id = t.list_id
          WHERE t.list_id = $1 AND (l.owner_id IS NULL OR l.owner_id = $2)`,
        [listId, ctx.userId],
        { tables: ['todos', 'todo_lists'] },
      ),
    )
    .method('lists.create', { loginRequired: true, params: [z.string().min(1)] }, async (ctx, name) =>
      ctx.insert('lists', { name, owner_id: ctx.userId }),
    )
    .method('lists.createPublic', { roles: ['admin'], params: [z.string().min(1)] }, async (ctx, name) =>
      ctx.insert('lists', { name, owner_id: null }),
    )
    .method('lists.makePrivate', { loginRequired: true, params: [z.string()] }, async (ctx, listId) => {
      await writableList(ctx, listId);
      await ctx.update('lists', listId, { owner_id: ctx.userId });
    })
    .method(
      'todos.add',
      { loginRequired: true, params: [z.string(), z.string().min(1)] },
      async (ctx, listId, text) => {
        await writableList(ctx, listId);
        return ctx.insert('todos', { list_id: listId, text });
      },
    )
    .method(
      'todos.setChecked',
      { loginRequired: true, params: [z.string(), z.boolean()] },
      async (ctx, todoId, checked) => {
        const todo = await ctx.findOne('todos', todoId, { forUpdate: true });
        if (!todo) throw new AccessDeniedError();
        await writableList(ctx, String(todo.list_id));
        await ctx.update('todos', todoId, { checked });
      },
    );
}
