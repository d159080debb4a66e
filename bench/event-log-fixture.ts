// A realistic event log, generated inside the database by one INSERT … SELECT generate_series:
// 31 dotted kinds with a skewed mix (health checks and upgrades dominate, federation and operator
// events are rare) plus the kinds under RARE_PREFIX, whose ~50 rows all sit among the oldest 1% of ids.
// Deterministic: the same count gives the same log (hashint8 of the row number picks the kind).
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { Database } from '../src/store/database.js';

/** Kinds and their weight per thousand events. */
export const EVENT_MIX: ReadonlyArray<readonly [kind: string, perMille: number]> = [
  ['module.upgrade.instance_health_check', 200],
  ['module.upgrade.instance_upgraded', 140],
  ['instance.heartbeat_late', 131],
  ['instance.state_changed', 80],
  ['policy.evaluated', 60],
  ['instance.registered', 50],
  ['module.upgrade.batch_started', 40],
  ['module.upgrade.batch_completed', 40],
  ['federation.sync.completed', 40],
  ['module.version.published', 30],
  ['module.version.promoted', 25],
  ['agent.disconnected', 25],
  ['agent.reconnected', 25],
  ['instance.drift_detected', 20],
  ['agent.enrolled', 15],
  ['schedule.window_opened', 15],
  ['module.upgrade.started', 10],
  ['approval.requested', 10],
  ['module.upgrade.completed', 9],
  ['approval.granted', 8],
  ['module.version.archived', 5],
  ['federation.sync.failed', 4],
  ['module.created', 3],
  ['module.upgrade.paused', 3],
  ['module.upgrade.rolled_back', 2],
  ['approval.denied', 2],
  ['federation.peer.proposed', 2],
  ['federation.peer.accepted', 2],
  ['operator.created', 2],
  ['federation.peer.revoked', 1],
  ['operator.revoked', 1],
];

export const RARE_PREFIX = 'rare.legacy.';
export const RARE_KINDS = [`${RARE_PREFIX}imported`, `${RARE_PREFIX}converted`];
/** How many rare rows the log gets (when it has at least 5,000 events). */
export const RARE_ROWS = 50;

export interface FilledLog {
  count: number;
  kinds: number;
  rareRows: number;
  /** Highest id among the rare rows. */
  newestRareId: string;
  maxId: string;
  seconds: number;
}

/**
 * Appends `count` events after whatever the log holds, registers their kinds in event_kinds, then
 * runs VACUUM ANALYZE on both tables (as autovacuum would on Postgres; PGlite never does it itself).
 */
export async function fillEventLog(db: Kysely<Database>, count: number): Promise<FilledLog> {
  const started = performance.now();
  const slots = EVENT_MIX.flatMap(([kind, perMille]) => Array<string>(perMille).fill(kind));
  // Rare rows: every `step`-th row among the first 1% of the appended rows.
  const oldest = Math.max(1, Math.floor(count / 100));
  const step = Math.max(1, Math.floor(oldest / RARE_ROWS));
  const h = (offset: number) => sql`(hashint8(g + ${offset}::bigint)::bigint + 2147483648)`;
  await sql`
    INSERT INTO events (kind, at, actor, payload)
    SELECT
      CASE WHEN g <= ${oldest}::bigint AND g % ${step}::bigint = 0
        THEN (${RARE_KINDS}::text[])[1 + (g / ${step}::bigint) % ${RARE_KINDS.length}::bigint]
        ELSE (${slots}::text[])[1 + ${h(0)} % ${slots.length}::bigint]
      END,
      timestamptz '2026-10-01T00:00:00Z' + g * interval '2 seconds',
      (ARRAY['reconciler', 'admin', 'alice', 'bob', 'peer:eu-west'])[1 + ${h(7)} % 5],
      jsonb_build_object(
        'module', 'mod-' || ${h(1)} % 200,
        'instance', 'i-' || ${h(2)} % 5000,
        'group', 'grp-' || ${h(3)} % 40,
        'seq', g)
    FROM generate_series(1, ${count}::bigint) AS g
    ORDER BY g`.execute(db);
  await sql`INSERT INTO event_kinds (kind) SELECT DISTINCT kind FROM events ON CONFLICT DO NOTHING`.execute(db);
  await sql`VACUUM ANALYZE events`.execute(db);
  await sql`VACUUM ANALYZE event_kinds`.execute(db);
  const stats = await sql<{ kinds: string; rare: string; newest_rare: string | null; max_id: string }>`
    SELECT (SELECT count(*) FROM event_kinds) AS kinds,
           (SELECT count(*) FROM events WHERE kind = ANY (${RARE_KINDS}::text[])) AS rare,
           (SELECT max(id) FROM events WHERE kind = ANY (${RARE_KINDS}::text[])) AS newest_rare,
           (SELECT max(id) FROM events) AS max_id`.execute(db);
  const row = stats.rows[0]!;
  return {
    count,
    kinds: Number(row.kinds),
    rareRows: Number(row.rare),
    newestRareId: row.newest_rare ?? '0',
    maxId: row.max_id,
    seconds: (performance.now() - started) / 1000,
  };
}
