/**
 * The talk's demo: a live list of presentations. The contract other tools rely on (keep it stable):
 * table `presentations (id text primary key, title text not null, subtitle text, created_at timestamptz)`;
 * collection and publication `presentations` (all rows sorted by title; fields title, subtitle, created_at);
 * methods `presentations.add({title, subtitle}) → id`, `presentations.update(id, {title?, subtitle?})`,
 * `presentations.remove(id)`. A missing, empty, non-string or over-200-character title is refused with
 * Meteor.Error `validation-error`.
 */
import { z } from 'zod';
import { App } from '../../core/app.js';
import type { Queryable } from '../../core/database/database.js';

const title = z.string().min(1).max(200);
const subtitle = z.string().max(1000).nullable().optional();

/** Creates the example's table if missing (idempotent). */
export async function migratePresentations(db: Queryable): Promise<void> {
  await db.query(`
    CREATE TABLE IF NOT EXISTS presentations (
      id text PRIMARY KEY,
      title text NOT NULL,
      subtitle text,
      created_at timestamptz DEFAULT now()
    )`);
}

/** The presentations app: one collection, one publication, three methods. */
export function presentationsApp(): App {
  return new App()
    .collection('presentations')
    .publish('presentations', (ctx) =>
      ctx.find('presentations', {}, { sort: { title: 1 }, fields: { title: 1, subtitle: 1, created_at: 1 } }),
    )
    .method('presentations.add', { params: [z.object({ title, subtitle })] }, async (ctx, doc) => {
      const id = ctx.newId('presentations');
      await ctx.insert('presentations', {
        id,
        title: doc.title,
        subtitle: doc.subtitle ?? null,
        created_at: new Date(),
      });
      return id;
    })
    .method(
      'presentations.update',
      { params: [z.string().min(1), z.object({ title: title.optional(), subtitle })] },
      async (ctx, id, changes) => {
        const fields: Record<string, unknown> = {};
        if (changes.title !== undefined) fields.title = changes.title;
        if (changes.subtitle !== undefined) fields.subtitle = changes.subtitle;
        return await ctx.update('presentations', id, fields);
      },
    )
    .method('presentations.remove', { params: [z.string().min(1)] }, async (ctx, id) => {
      return await ctx.remove('presentations', id);
    });
}
