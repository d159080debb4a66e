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
 * One backward walk of the (kind, id) index per matching kind, merged: cost follows the number of
 * matching kinds and the page size, never the age of the rows or the size of the log.
 */
export async function listRecentEvents(
  db: Db,
  opts: { prefix: string; limit: number; beforeId?: string },
): Promise<FlotillaEvent[]> {
  const before = opts.beforeId === undefined ? sql`` : sql`AND e.id < ${opts.beforeId}::bigint`;
  const take = opts.limit + 1;
  const result = await sql<EventRow>`
    SELECT e.id, e.kind, e.at, e.actor, e.payload
    FROM event_kinds k
    CROSS JOIN LATERAL (
      SELECT e.id, e.kind, e.at, e.actor, e.payload FROM events e
      WHERE e.kind = k.kind ${before}
      ORDER BY e.id DESC
      LIMIT ${take}
    ) e
    WHERE starts_with(k.kind, ${opts.prefix})
    ORDER BY e.id DESC
    LIMIT ${take}`.execute(db);
  return result.rows.map((r) => ({ id: r.id, kind: r.kind, at: r.at, actor: r.actor, payload: r.payload }));
}
