// The append-only event log. Appends run inside the caller's transaction, beside the change they record.
import { sql } from 'kysely';
import type { FlotillaEvent, NewEvent } from '../domain/types.js';
import type { Db } from './executor.js';

/** Appends one event (and registers its kind) in a single statement. */
export async function appendEvent(db: Db, event: NewEvent, at: Date): Promise<string> {
  const result = await sql<{ id: string }>`
    WITH kind AS (INSERT INTO event_kinds (kind) VALUES (${event.kind}) ON CONFLICT DO NOTHING)
    INSERT INTO events (kind, at, actor, payload)
    VALUES (${event.kind}, ${at}, ${event.actor}, ${JSON.stringify(event.payload)}::jsonb)
    RETURNING id`.execute(db);
  return result.rows[0]!.id;
}

interface EventRow {
  id: string;
  kind: string;
  at: Date;
  actor: string;
  payload: Record<string, unknown>;
}

/**
 * Newest events whose kind starts with `prefix`, with id below `beforeId` when given; limit + 1 rows.
 * The empty prefix walks the primary key backwards. Any other prefix walks the (kind, id) index
 * backwards once per matching kind, merges on ids alone, then reads only the rows of the page: cost
 * follows the number of matching kinds and the page size, never the age of the rows or the size of
 * the log.
 *
 * The inner walk says `kind >= k.kind AND kind <= k.kind … ORDER BY kind DESC, id DESC`, not
 * `kind = k.kind … ORDER BY id DESC`, on purpose. With `=`, the planner may walk the primary key
 * backwards instead and filter on kind: it assumes each kind is spread evenly over the log, so for
 * a kind whose rows are all old it reads nearly the whole table (hundreds of ms at 1M events, on
 * Postgres 15 and on PGlite; see bench/README.md). The range form leaves the (kind, id) index the
 * only path that delivers that order, whatever the statistics say; btree still starts the walk at
 * (kind, beforeId) and stops at the end of the kind.
 */
export async function listRecentEvents(
  db: Db,
  opts: { prefix: string; limit: number; beforeId?: string },
): Promise<FlotillaEvent[]> {
  const take = opts.limit + 1;
  if (opts.prefix === '') {
    // Every kind matches: the newest rows are simply the tail of the primary key.
    const below = opts.beforeId === undefined ? sql`` : sql`WHERE id < ${opts.beforeId}::bigint`;
    const all = await sql<EventRow>`
      SELECT id, kind, at, actor, payload FROM events ${below} ORDER BY id DESC LIMIT ${take}`.execute(db);
    return all.rows.map(toEvent);
  }
  const before = opts.beforeId === undefined ? sql`` : sql`AND w.id < ${opts.beforeId}::bigint`;
  const result = await sql<EventRow>`
    SELECT e.id, e.kind, e.at, e.actor, e.payload
    FROM (
      SELECT w.id
      FROM event_kinds k
      CROSS JOIN LATERAL (
        SELECT w.id FROM events w
        WHERE w.kind >= k.kind AND w.kind <= k.kind ${before}
        ORDER BY w.kind DESC, w.id DESC
        LIMIT ${take}
      ) w
      WHERE starts_with(k.kind, ${opts.prefix})
      ORDER BY w.id DESC
      LIMIT ${take}
    ) page
    JOIN events e ON e.id = page.id
    ORDER BY e.id DESC`.execute(db);
  return result.rows.map(toEvent);
}

function toEvent(r: EventRow): FlotillaEvent {
  return { id: r.id, kind: r.kind, at: r.at, actor: r.actor, payload: r.payload };
}

/** Appends several events in one statement (kinds registered too); a no-op for an empty list. */
export async function appendEvents(db: Db, events: readonly NewEvent[], at: Date): Promise<void> {
  if (events.length === 0) return;
  const kinds = [...new Set(events.map((e) => e.kind))];
  await sql`
    WITH kinds AS (INSERT INTO event_kinds (kind) SELECT unnest(${kinds}::text[]) ON CONFLICT DO NOTHING)
    INSERT INTO events (kind, at, actor, payload)
    SELECT k, ${at}, a, p FROM unnest(${events.map((e) => e.kind)}::text[], ${events.map((e) => e.actor)}::text[],
                                     ${events.map((e) => JSON.stringify(e.payload))}::jsonb[]) WITH ORDINALITY AS x(k, a, p, ord)
    ORDER BY ord`.execute(db);
}
