// Learnings: what operators noted after a change, surfaced by later plans.
import { sql } from 'kysely';
import type { Db } from './executor.js';

export interface Learning {
  id: string;
  title: string;
  category: string;
  content: string;
  tags: string[];
  createdBy: string;
  createdAt: Date;
}

interface Row {
  id: string;
  title: string;
  category: string;
  content: string;
  tags: string[];
  created_by: string;
  created_at: Date;
}

const toLearning = (r: Row): Learning => ({
  id: r.id,
  title: r.title,
  category: r.category,
  content: r.content,
  tags: r.tags,
  createdBy: r.created_by,
  createdAt: r.created_at,
});

export async function insertLearning(
  db: Db,
  l: { title: string; category: string; content: string; tags: string[]; by: string; at: Date },
): Promise<Learning> {
  const row = await db
    .insertInto('learnings')
    .values({
      title: l.title,
      category: l.category,
      content: l.content,
      tags: l.tags,
      created_by: l.by,
      created_at: l.at,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toLearning(row);
}

/**
 * Learnings matching any of `tags`, or whose title or content mentions `text` (case-insensitive),
 * newest first; limit + 1 rows after the (created_at, id) cursor.
 */
export async function searchLearnings(
  db: Db,
  f: { text?: string; tags?: string[]; category?: string; limit: number; before?: { createdAt: Date; id: string } },
): Promise<Learning[]> {
  const match: ReturnType<typeof sql>[] = [];
  if (f.tags !== undefined && f.tags.length > 0) match.push(sql`tags && ${f.tags}::text[]`);
  if (f.text !== undefined && f.text !== '') {
    const like = `%${f.text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    match.push(sql`(title ILIKE ${like} OR content ILIKE ${like})`);
  }
  const conds = [match.length === 0 ? sql`true` : sql`(${sql.join(match, sql` OR `)})`];
  if (f.category !== undefined) conds.push(sql`category = ${f.category}`);
  if (f.before !== undefined) conds.push(sql`(created_at, id) < (${f.before.createdAt}, ${f.before.id}::uuid)`);
  const rows = await sql<Row>`
    SELECT * FROM learnings WHERE ${sql.join(conds, sql` AND `)}
    ORDER BY created_at DESC, id DESC LIMIT ${f.limit + 1}`.execute(db);
  return rows.rows.map(toLearning);
}
