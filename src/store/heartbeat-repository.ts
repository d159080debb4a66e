// Heartbeat writes: a whole batch of heartbeats in one statement that authenticates each agent by its
// token hash, records what it runs, emits recovery events, and returns its desired versions; and the
// stale sweep, one statement per tick whatever the fleet size.
import { sql } from 'kysely';
import type { AgentHealth } from '../domain/fleet.js';
import type { Db } from './executor.js';

export interface HeartbeatRow {
  tokenHash: string;
  runningModuleDigests: Record<string, string>;
  health: AgentHealth;
  status: string;
}

export interface DesiredWire {
  module_name: string;
  version: string;
  version_id: string;
  digest: string;
}

export interface HeartbeatAck {
  instanceId: string;
  /** Shared by the acks of one batch that are told the same versions: read it, never change it. */
  desired: readonly DesiredWire[];
}

/**
 * Applies heartbeats (at most one per token: callers dedupe) and returns an ack per accepted token.
 * A token that is unknown, revoked or belongs to a terminated instance has no entry.
 *
 * The statement commits asynchronously (synchronous_commit off for its own transaction): it does not
 * wait for the WAL flush, which on this machine's disk was 2–3 ms of every batch under load. A
 * Postgres crash can then roll back the last fraction of a second of heartbeats, atomically with
 * their recovery events, as if they had not arrived; agents send again every interval, and any later
 * synchronous commit (every other write) flushes them first, so nothing that depends on them is lost.
 * Call it on its own, never inside a transaction that writes anything else.
 *
 * It is a named prepared statement (PREPARED_MARK in db.ts; its text is the same for every batch, the
 * rows go in as arrays): parsing and planning it took ~0.65 ms of Postgres CPU per batch, more than
 * 30 heartbeats' worth of its rows.
 */
export async function applyHeartbeats(
  db: Db,
  rows: readonly HeartbeatRow[],
  now: Date,
): Promise<Map<string, HeartbeatAck>> {
  const result = await sql<{ token_hash: string; instance_id: string; desired: string }>`/* prepared:apply_heartbeats */
    WITH v AS (
      SELECT v.* FROM unnest(
        ${rows.map((r) => r.tokenHash)}::text[],
        ${rows.map((r) => JSON.stringify(r.runningModuleDigests))}::jsonb[],
        ${rows.map((r) => r.health)}::text[],
        ${rows.map((r) => r.status)}::text[]
      ) AS v(token_hash, digests, health, agent_status)
      CROSS JOIN (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit
    ),
    old AS (
      SELECT i.id, i.status FROM instances i JOIN v ON v.token_hash = i.agent_token_hash
    ),
    upd AS (
      UPDATE instances i
      SET last_heartbeat_at = ${now}, running_module_digests = v.digests, health = v.health,
          agent_status = v.agent_status, status = 'running'
      FROM v
      WHERE i.agent_token_hash = v.token_hash AND i.status <> 'terminated'
      RETURNING i.id, i.name, i.group_id, v.token_hash
    ),
    recovered AS (
      SELECT upd.id, upd.name FROM upd JOIN old ON old.id = upd.id WHERE old.status = 'stale'
    ),
    kinds AS (
      INSERT INTO event_kinds (kind) SELECT 'instance.recovered' WHERE EXISTS (SELECT 1 FROM recovered)
      ON CONFLICT DO NOTHING
    ),
    ev AS (
      INSERT INTO events (kind, at, actor, payload)
      SELECT 'instance.recovered', ${now}, 'agent:' || name, jsonb_build_object('instance_id', id, 'name', name)
      FROM recovered
    ),
    -- Desired versions by the rule of the instance_effective_versions view (the instance's own
    -- override, else its group's baseline), joined once for the whole batch: the view per instance
    -- is a lateral join per row, ~18 µs of Postgres CPU a heartbeat; this way the statement costs
    -- 9–18 µs less a heartbeat (bench/README.md, section 3).
    effective AS (
      SELECT d.instance_id, d.module_id, d.version_id
      FROM instance_desired_versions d WHERE d.instance_id IN (SELECT id FROM upd)
      UNION ALL
      SELECT upd.id, g.module_id, g.version_id
      FROM upd JOIN group_module_versions g ON g.group_id = upd.group_id
      WHERE NOT EXISTS (
        SELECT 1 FROM instance_desired_versions d2 WHERE d2.instance_id = upd.id AND d2.module_id = g.module_id
      )
    ),
    desired AS (
      SELECT e.instance_id,
        json_agg(json_build_object('module_name', m.name, 'version', mv.version,
                                   'version_id', mv.id, 'digest', mv.digest) ORDER BY m.name) AS desired
      FROM effective e JOIN module_versions mv ON mv.id = e.version_id JOIN modules m ON m.id = e.module_id
      GROUP BY e.instance_id
    )
    SELECT upd.token_hash, upd.id AS instance_id, COALESCE(desired.desired, '[]'::json)::text AS desired
    FROM upd LEFT JOIN desired ON desired.instance_id = upd.id`.execute(db);
  // Most agents of a batch are told the same versions: each distinct answer is parsed once.
  const parsed = new Map<string, DesiredWire[]>();
  const acks = new Map<string, HeartbeatAck>();
  for (const r of result.rows) {
    let desired = parsed.get(r.desired);
    if (desired === undefined) {
      desired = JSON.parse(r.desired) as DesiredWire[];
      parsed.set(r.desired, desired);
    }
    acks.set(r.token_hash, { instanceId: r.instance_id, desired });
  }
  return acks;
}

/** Marks running instances whose last heartbeat is before `cutoff` stale, with an event each; returns how many. */
export async function sweepStaleInstances(db: Db, cutoff: Date, now: Date): Promise<number> {
  const result = await sql<{ n: string }>`
    WITH due AS (
      -- Rows a heartbeat batch holds right now are skipped: they are alive, and waiting for them
      -- could deadlock against a batch locking the same rows in another order.
      SELECT id FROM instances WHERE status = 'running' AND last_heartbeat_at < ${cutoff}
      FOR UPDATE SKIP LOCKED
    ),
    s AS (
      UPDATE instances i SET status = 'stale' FROM due
      WHERE i.id = due.id
      RETURNING i.id, i.name, i.group_id, i.last_heartbeat_at
    ),
    kinds AS (
      INSERT INTO event_kinds (kind) SELECT 'instance.stale' WHERE EXISTS (SELECT 1 FROM s) ON CONFLICT DO NOTHING
    ),
    ev AS (
      INSERT INTO events (kind, at, actor, payload)
      SELECT 'instance.stale', ${now}, 'reconciler',
             jsonb_build_object('instance_id', id, 'name', name, 'group_id', group_id, 'last_heartbeat_at', last_heartbeat_at)
      FROM s
    )
    SELECT count(*) AS n FROM s`.execute(db);
  return Number(result.rows[0]?.n ?? 0);
}
