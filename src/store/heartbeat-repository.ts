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
  desired: DesiredWire[];
}

/**
 * Applies heartbeats (at most one per token: callers dedupe) and returns an ack per accepted token.
 * A token that is unknown, revoked or belongs to a terminated instance has no entry.
 */
export async function applyHeartbeats(
  db: Db,
  rows: readonly HeartbeatRow[],
  now: Date,
): Promise<Map<string, HeartbeatAck>> {
  const result = await sql<{ token_hash: string; instance_id: string; desired: DesiredWire[] }>`
    WITH v AS (
      SELECT * FROM unnest(
        ${rows.map((r) => r.tokenHash)}::text[],
        ${rows.map((r) => JSON.stringify(r.runningModuleDigests))}::jsonb[],
        ${rows.map((r) => r.health)}::text[],
        ${rows.map((r) => r.status)}::text[]
      ) AS v(token_hash, digests, health, agent_status)
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
      RETURNING i.id, i.name, v.token_hash
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
    )
    SELECT upd.token_hash, upd.id AS instance_id,
      COALESCE((
        SELECT json_agg(json_build_object('module_name', e.module_name, 'version', e.version,
                                          'version_id', e.version_id, 'digest', e.digest) ORDER BY e.module_name)
        FROM instance_effective_versions e WHERE e.instance_id = upd.id
      ), '[]'::json) AS desired
    FROM upd`.execute(db);
  return new Map(result.rows.map((r) => [r.token_hash, { instanceId: r.instance_id, desired: r.desired }]));
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
