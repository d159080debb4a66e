// Intervention policies and approval requests. Decisions are conditional updates, so concurrent
// deciders produce exactly one transition; the four-eyes rule (requester and excluded deciders) is a
// CHECK constraint as well.
import { sql } from 'kysely';
import type {
  ApprovalKind,
  ApprovalRequest,
  ApprovalStatus,
  InterventionPolicy,
  PolicyMode,
} from '../domain/approvals.js';
import type { Db } from './executor.js';

export async function findPolicy(db: Db, action: string): Promise<InterventionPolicy | null> {
  const row = await db.selectFrom('intervention_policies').selectAll().where('action', '=', action).executeTakeFirst();
  return row === undefined
    ? null
    : {
        action: row.action,
        mode: row.mode as PolicyMode,
        fourEyes: row.four_eyes,
        updatedBy: row.updated_by,
        updatedAt: row.updated_at,
      };
}

export async function listPolicies(db: Db): Promise<InterventionPolicy[]> {
  const rows = await db.selectFrom('intervention_policies').selectAll().orderBy('action').execute();
  return rows.map((r) => ({
    action: r.action,
    mode: r.mode as PolicyMode,
    fourEyes: r.four_eyes,
    updatedBy: r.updated_by,
    updatedAt: r.updated_at,
  }));
}

export async function upsertPolicy(
  db: Db,
  p: { action: string; mode: PolicyMode; fourEyes: boolean; by: string; at: Date },
): Promise<void> {
  await db
    .insertInto('intervention_policies')
    .values({ action: p.action, mode: p.mode, four_eyes: p.fourEyes, updated_by: p.by, updated_at: p.at })
    .onConflict((oc) =>
      oc.column('action').doUpdateSet({ mode: p.mode, four_eyes: p.fourEyes, updated_by: p.by, updated_at: p.at }),
    )
    .execute();
}

type Row = {
  id: string;
  kind: string;
  subject_type: string;
  subject_id: string;
  summary: Record<string, unknown>;
  options: string[];
  action: string;
  four_eyes: boolean;
  requested_by: string;
  excluded_deciders: string[];
  status: string;
  created_at: Date;
  expires_at: Date;
  decided_by: string | null;
  decided_at: Date | null;
  decision: string | null;
  chosen_option: string | null;
  reason: string | null;
  edits: Record<string, unknown> | null;
  superseded_by: string | null;
};

function toApproval(r: Row): ApprovalRequest {
  return {
    id: r.id,
    kind: r.kind as ApprovalKind,
    subjectType: r.subject_type,
    subjectId: r.subject_id,
    summary: r.summary,
    options: r.options,
    action: r.action,
    fourEyes: r.four_eyes,
    requestedBy: r.requested_by,
    excludedDeciders: r.excluded_deciders,
    status: r.status as ApprovalStatus,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    decidedBy: r.decided_by,
    decidedAt: r.decided_at,
    decision: r.decision as 'approve' | 'reject' | null,
    chosenOption: r.chosen_option,
    reason: r.reason,
    edits: r.edits,
    supersededBy: r.superseded_by,
  };
}

export interface NewApproval {
  kind: ApprovalKind;
  subjectType: string;
  subjectId: string;
  summary: Record<string, unknown>;
  options: string[];
  action: string;
  fourEyes: boolean;
  requestedBy: string;
  /** Who requested or edited earlier versions of this plan; default none. */
  excludedDeciders?: string[];
  createdAt: Date;
  expiresAt: Date;
}

export async function insertApproval(db: Db, a: NewApproval): Promise<ApprovalRequest> {
  const row = await db
    .insertInto('approval_requests')
    .values({
      kind: a.kind,
      subject_type: a.subjectType,
      subject_id: a.subjectId,
      summary: JSON.stringify(a.summary),
      options: JSON.stringify(a.options),
      action: a.action,
      four_eyes: a.fourEyes,
      requested_by: a.requestedBy,
      excluded_deciders: a.excludedDeciders ?? [],
      status: 'pending',
      created_at: a.createdAt,
      expires_at: a.expiresAt,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toApproval(row);
}

export async function findApproval(
  db: Db,
  id: string,
  opts: { forUpdate?: boolean } = {},
): Promise<ApprovalRequest | null> {
  let q = db.selectFrom('approval_requests').selectAll().where('id', '=', id);
  if (opts.forUpdate === true) q = q.forUpdate();
  const row = await q.executeTakeFirst();
  return row === undefined ? null : toApproval(row);
}

/** Newest first, after the (created_at, id) cursor; limit + 1 rows. */
export async function listApprovals(
  db: Db,
  f: {
    status?: ApprovalStatus;
    kind?: ApprovalKind;
    subjectId?: string;
    limit: number;
    before?: { createdAt: Date; id: string };
  },
): Promise<ApprovalRequest[]> {
  let q = db
    .selectFrom('approval_requests')
    .selectAll()
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(f.limit + 1);
  if (f.status !== undefined) q = q.where('status', '=', f.status);
  if (f.kind !== undefined) q = q.where('kind', '=', f.kind);
  if (f.subjectId !== undefined) q = q.where('subject_id', '=', f.subjectId);
  const before = f.before;
  if (before !== undefined) {
    q = q.where((eb) =>
      eb.or([
        eb('created_at', '<', before.createdAt),
        eb.and([eb('created_at', '=', before.createdAt), eb('id', '<', before.id)]),
      ]),
    );
  }
  return (await q.execute()).map(toApproval);
}

/** Records a decision if the request is still pending and unexpired; null when another decision won. */
export async function decideApproval(
  db: Db,
  d: {
    id: string;
    decidedBy: string;
    decision: 'approve' | 'reject';
    option: string | null;
    reason: string | null;
    at: Date;
  },
): Promise<ApprovalRequest | null> {
  const row = await db
    .updateTable('approval_requests')
    .set({
      status: d.decision === 'approve' ? 'approved' : 'rejected',
      decided_by: d.decidedBy,
      decided_at: d.at,
      decision: d.decision,
      chosen_option: d.option,
      reason: d.reason,
    })
    .where('id', '=', d.id)
    .where('status', '=', 'pending')
    .where('expires_at', '>', d.at)
    .returningAll()
    .executeTakeFirst();
  return row === undefined ? null : toApproval(row);
}

/** Marks pending requests superseded (by `by` when a new request replaces them). */
export async function supersedeApprovals(
  db: Db,
  where: { id?: string; subjectId?: string },
  by: { supersededBy: string | null; edits: Record<string, unknown> | null },
): Promise<number> {
  let q = db
    .updateTable('approval_requests')
    .set({
      status: 'superseded',
      superseded_by: by.supersededBy,
      edits: by.edits === null ? null : JSON.stringify(by.edits),
    })
    .where('status', '=', 'pending');
  if (where.id !== undefined) q = q.where('id', '=', where.id);
  if (where.subjectId !== undefined) q = q.where('subject_id', '=', where.subjectId);
  const r = await q.executeTakeFirst();
  return Number(r.numUpdatedRows);
}

/** Expires pending requests past their expiry; returns them (one statement). */
export async function expireApprovals(db: Db, now: Date): Promise<ApprovalRequest[]> {
  const rows = await sql<Row>`
    UPDATE approval_requests SET status = 'expired'
    WHERE status = 'pending' AND expires_at <= ${now}
    RETURNING *`.execute(db);
  return rows.rows.map(toApproval);
}
