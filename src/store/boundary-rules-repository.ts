// Boundary rule rows: insert, find, list a peer's rules by priority, delete. Plain functions taking
// `db` or `trx` first; the evaluation itself is the domain's (evaluateBoundary).
import type { Selectable } from 'kysely';
import type { BoundaryAction, BoundaryDirection, BoundaryRule, Capability } from '../domain/capabilities.js';
import type { BoundaryRulesTable } from './database.js';
import type { Db } from './executor.js';

function toRule(row: Selectable<BoundaryRulesTable>): BoundaryRule {
  return {
    id: row.id,
    federationPeerId: row.federation_peer_id,
    direction: row.direction as BoundaryDirection,
    action: row.action as BoundaryAction,
    capability: row.capability as Capability,
    priority: row.priority,
    createdBy: row.created_by,
    createdAt: row.created_at,
  };
}

export interface NewBoundaryRule {
  peerId: string;
  direction: BoundaryDirection;
  action: BoundaryAction;
  capability: Capability;
  priority: number;
  createdBy: string;
  at: Date;
}

/** Inserts a rule; null when the peer already has a rule at that direction and priority. */
export async function insertBoundaryRule(db: Db, rule: NewBoundaryRule): Promise<BoundaryRule | null> {
  const row = await db
    .insertInto('boundary_rules')
    .values({
      federation_peer_id: rule.peerId,
      direction: rule.direction,
      action: rule.action,
      capability: rule.capability,
      priority: rule.priority,
      created_by: rule.createdBy,
      created_at: rule.at,
    })
    .onConflict((oc) => oc.columns(['federation_peer_id', 'direction', 'priority']).doNothing())
    .returningAll()
    .executeTakeFirst();
  return row === undefined ? null : toRule(row);
}

export async function findBoundaryRuleById(db: Db, id: string): Promise<BoundaryRule | null> {
  const row = await db.selectFrom('boundary_rules').selectAll().where('id', '=', id).executeTakeFirst();
  return row === undefined ? null : toRule(row);
}

export async function findBoundaryRuleAt(
  db: Db,
  peerId: string,
  direction: BoundaryDirection,
  priority: number,
): Promise<BoundaryRule | null> {
  const row = await db
    .selectFrom('boundary_rules')
    .selectAll()
    .where('federation_peer_id', '=', peerId)
    .where('direction', '=', direction)
    .where('priority', '=', priority)
    .executeTakeFirst();
  return row === undefined ? null : toRule(row);
}

/** A peer's rules of one direction by ascending priority, after `afterPriority` when given; at most `limit`. */
export async function listBoundaryRules(
  db: Db,
  peerId: string,
  direction: BoundaryDirection,
  opts: { limit?: number; afterPriority?: number } = {},
): Promise<BoundaryRule[]> {
  let query = db
    .selectFrom('boundary_rules')
    .selectAll()
    .where('federation_peer_id', '=', peerId)
    .where('direction', '=', direction);
  if (opts.afterPriority !== undefined) query = query.where('priority', '>', opts.afterPriority);
  query = query.orderBy('priority');
  if (opts.limit !== undefined) query = query.limit(opts.limit);
  return (await query.execute()).map(toRule);
}

/** Deletes a rule and returns it; null when it did not exist. */
export async function deleteBoundaryRule(db: Db, id: string): Promise<BoundaryRule | null> {
  const row = await db.deleteFrom('boundary_rules').where('id', '=', id).returningAll().executeTakeFirst();
  return row === undefined ? null : toRule(row);
}
