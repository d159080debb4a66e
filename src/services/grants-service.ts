// Federation grants as operators see them: issue and revoke (admin), list (viewer), and the sweep that
// archives expired grants. Revoking the last grant a managed child gave its parent emancipates the
// child (spawn_mode becomes autonomous_peer). Every change is audited on the peer's log in its transaction.
import { z } from 'zod';
import {
  GRANT_SCOPES,
  MANAGED_CHILD_GRANT_TTL_DAYS,
  MANAGED_CHILD_SCOPES,
  normaliseScopes,
  type FederationGrant,
  type GrantDirection,
  type GrantScope,
  type GrantStatus,
} from '../domain/capabilities.js';
import type { FederationPeer } from '../domain/federation.js';
import { isUuid } from '../domain/names.js';
import { decodeTimeIdCursor, toPage, type Page } from '../domain/paging.js';
import type { Caller } from '../domain/roles.js';
import type { NewEvent } from '../domain/types.js';
import { ConflictError, InvalidInputError, NotFoundError } from '../errors.js';
import { insertAuditEntry } from '../store/audit-repository.js';
import { appendEvent } from '../store/events-repository.js';
import type { Db } from '../store/executor.js';
import {
  archiveExpiredGrants,
  changePeerSpawnMode,
  findActiveGrant,
  findGrantById,
  insertGrant,
  listGrants,
  revokeGrant,
  revokePeerGrants,
} from '../store/grants-repository.js';
import { findPeerById } from '../store/peers-repository.js';
import type { AuditService } from './audit-service.js';
import type { ServiceDeps } from './context.js';
import type { PeerCalls } from './peer-calls.js';
import { requireRole } from './operators-service.js';

const DAY_MS = 86_400_000;
export const DEFAULT_GRANT_TTL_DAYS = 365;
export const MAX_GRANT_TTL_DAYS = 3650;
/** The protocol call a child sends its parent when it revoked the parent's last grant. */
export const GRANTS_CHANGED = 'grants.changed';
const grantsChangedArgs = z.strictObject({ spawn_mode: z.literal('autonomous_peer') });
/** Grants archived per sweep statement; the next tick takes the rest. */
const ARCHIVE_BATCH = 500;

/** What the audit log and events say about a grant. */
function grantPayload(grant: FederationGrant): Record<string, unknown> {
  return {
    grant_id: grant.id,
    direction: grant.direction,
    scopes: grant.scopes,
    expires_at: grant.expiresAt.toISOString(),
  };
}

function grantEvent(kind: string, grant: FederationGrant, actor: string): NewEvent {
  return {
    kind,
    actor,
    payload: { ...grantPayload(grant), peer_id: grant.federationPeerId, peer_name: grant.peerName },
  };
}

function emancipatedEvent(peer: FederationPeer, actor: string, by: 'local' | 'remote'): NewEvent {
  return {
    kind: 'federation.peer.emancipated',
    actor,
    payload: {
      peer_id: peer.id,
      name: peer.name,
      spawn_role: peer.spawnRole,
      spawn_mode: 'autonomous_peer',
      previous_spawn_mode: 'managed_child',
      by,
    },
  };
}

/** True when the peer administers this platform as a managed child: grants issued to it are enforced. */
export function administersUs(peer: FederationPeer): boolean {
  return peer.spawnRole === 'child' && peer.spawnMode === 'managed_child';
}

export interface RevokedGrant {
  grant: FederationGrant;
  /** True when this revocation ended a managed-child relationship (now autonomous_peer). */
  emancipated: boolean;
}

/** Called after a revocation that emancipated this platform from `peer`, to tell the parent (outbox). */
export type EmancipationNotifier = (
  trx: Db,
  peer: FederationPeer,
  grant: FederationGrant,
  actor: string,
) => Promise<void>;

export class GrantsService {
  private notifier: EmancipationNotifier | null = null;

  constructor(
    private readonly deps: ServiceDeps,
    private readonly audit: AuditService,
    private readonly resolvePeer: (ref: string) => Promise<FederationPeer>,
  ) {}

  /** Registers how an emancipation is told to the parent, inside the revoke's transaction. */
  onEmancipation(notifier: EmancipationNotifier): void {
    this.notifier = notifier;
  }

  /**
   * Registers the `grants.changed` protocol operation (the parent applies a child's emancipation) and
   * tells the parent through the outbox whenever this platform emancipates itself.
   */
  attachPeerCalls(calls: PeerCalls): void {
    calls.register({
      name: GRANTS_CHANGED,
      capability: null,
      residencyKinds: [],
      args: grantsChangedArgs,
      handle: async ({ db, peer, now }) => ({
        applied: await applyRemoteEmancipation(db, peer.id, now),
        spawn_mode: 'autonomous_peer',
      }),
    });
    this.onEmancipation(async (trx, peer, _grant, actor) => {
      if (peer.status !== 'active' && peer.status !== 'lost_contact') return; // nobody to tell yet
      await calls.enqueue(trx, peer, GRANTS_CHANGED, { spawn_mode: 'autonomous_peer' }, { onBehalfOf: null, actor });
    });
  }

  /** Issues a grant to a peer that administers this platform as a managed child. */
  async issue(
    caller: Caller,
    input: { peerRef: string; scopes: readonly GrantScope[]; ttlDays?: number; reason?: string },
  ): Promise<FederationGrant> {
    requireRole(caller, 'admin', 'issuing a federation grant');
    const scopes = checkScopes(input.scopes);
    const ttlDays = input.ttlDays ?? DEFAULT_GRANT_TTL_DAYS;
    if (!Number.isInteger(ttlDays) || ttlDays < 1 || ttlDays > MAX_GRANT_TTL_DAYS) {
      throw new InvalidInputError(`ttl_days must be a whole number from 1 to ${MAX_GRANT_TTL_DAYS}; got ${ttlDays}`);
    }
    const peer = await this.resolvePeer(input.peerRef);
    if (peer.status === 'revoked') {
      throw new ConflictError(`federation peer ${input.peerRef} is revoked; a grant to it would never be used`, {
        hint: 'propose or accept a new peering first',
      });
    }
    if (!administersUs(peer)) {
      throw new ConflictError(
        `federation peer ${input.peerRef} does not administer this platform: it is ${peer.spawnMode} and this side is its ${peer.spawnRole}`,
        {
          hint: 'grants apply only to the parent of a managed_child; calls from other peers act as the local operator bound to the operator they name (create_peer_identity_binding)',
          details: { spawn_role: peer.spawnRole, spawn_mode: peer.spawnMode },
        },
      );
    }
    return this.deps.db.transaction().execute(async (trx) => {
      const now = this.deps.clock.now();
      const grant = await insertGrant(trx, {
        peerId: peer.id,
        direction: 'issued',
        scopes,
        expiresAt: new Date(now.getTime() + ttlDays * DAY_MS),
        issuedBy: caller.name,
        reason: input.reason ?? null,
        at: now,
      });
      await this.audit.append(
        peer.id,
        {
          actor: caller.name,
          action: 'federation.grant.issued',
          payload: { ...grantPayload(grant), reason: grant.reason },
        },
        trx,
      );
      await appendEvent(trx, grantEvent('federation.grant.issued', grant, caller.name), now);
      return grant;
    });
  }

  /**
   * Revokes a grant this platform issued. When it was the last active grant to the parent of a managed
   * child, the relationship becomes autonomous_peer in the same transaction (the peering stays active).
   */
  async revoke(caller: Caller, input: { grantId: string; reason?: string }): Promise<RevokedGrant> {
    requireRole(caller, 'admin', 'revoking a federation grant');
    const hint = 'list_federation_grants shows grants by id';
    if (!isUuid(input.grantId)) throw new NotFoundError(`no federation grant ${input.grantId}`, { hint });
    const existing = await findGrantById(this.deps.db, input.grantId);
    if (existing === null) throw new NotFoundError(`no federation grant ${input.grantId}`, { hint });
    if (existing.direction === 'received') {
      throw new ConflictError(
        `federation grant ${input.grantId} was received from ${existing.peerName}; only ${existing.peerName} can revoke it`,
        { hint: 'ask the operator of the granting platform to revoke it there; this side mirrors the change' },
      );
    }
    return this.deps.db.transaction().execute(async (trx) => {
      const now = this.deps.clock.now();
      const grant = await revokeGrant(trx, existing.id, caller.name, now);
      if (grant === null) {
        throw new ConflictError(`federation grant ${input.grantId} is already ${existing.status}`, {
          hint: 'only an active grant can be revoked',
        });
      }
      await this.audit.append(
        grant.federationPeerId,
        {
          actor: caller.name,
          action: 'federation.grant.revoked',
          payload: { ...grantPayload(grant), reason: input.reason ?? null },
        },
        trx,
      );
      await appendEvent(trx, grantEvent('federation.grant.revoked', grant, caller.name), now);
      const emancipated = await this.emancipateIfLast(trx, grant, caller.name, now);
      return { grant, emancipated };
    });
  }

  private async emancipateIfLast(trx: Db, grant: FederationGrant, actor: string, now: Date): Promise<boolean> {
    const peer = await findPeerById(trx, grant.federationPeerId);
    if (peer === null || !administersUs(peer)) return false;
    if ((await findActiveGrant(trx, peer.id, 'issued', GRANT_SCOPES, now)) !== null) return false;
    if (!(await changePeerSpawnMode(trx, peer.id, 'managed_child', 'autonomous_peer', now))) return false;
    await this.audit.append(
      peer.id,
      {
        actor,
        action: 'federation.emancipated',
        payload: {
          by: 'local',
          grant_id: grant.id,
          spawn_mode: 'autonomous_peer',
          previous_spawn_mode: 'managed_child',
        },
      },
      trx,
    );
    await appendEvent(trx, emancipatedEvent(peer, actor, 'local'), now);
    if (this.notifier !== null) await this.notifier(trx, peer, grant, actor);
    return true;
  }

  /** Grants oldest first, optionally one peer's (by id or name) and one status, paged. */
  async list(opts: {
    peerRef?: string;
    status?: GrantStatus;
    limit: number;
    cursor?: string;
  }): Promise<Page<FederationGrant>> {
    const after = opts.cursor === undefined ? undefined : decodeTimeIdCursor(opts.cursor);
    const peer = opts.peerRef === undefined ? undefined : await this.resolvePeer(opts.peerRef);
    const rows = await listGrants(this.deps.db, {
      limit: opts.limit,
      ...(peer === undefined ? {} : { peerId: peer.id }),
      ...(opts.status === undefined ? {} : { status: opts.status }),
      ...(after === undefined ? {} : { after }),
    });
    return toPage(rows, opts.limit, (g) => ({ created_at: g.createdAt.toISOString(), id: g.id }));
  }

  /**
   * Archives active grants whose expiry has passed (one statement), each with an audit entry on its peer's
   * log and a `federation.grant.archived` event, in one transaction. Returns the grants archived.
   */
  async archiveExpired(now: Date): Promise<FederationGrant[]> {
    return this.deps.db.transaction().execute(async (trx) => {
      const archived = await archiveExpiredGrants(trx, now, ARCHIVE_BATCH);
      for (const grant of archived) {
        await this.audit.append(
          grant.federationPeerId,
          { actor: 'reconciler', action: 'federation.grant.archived', payload: grantPayload(grant) },
          trx,
        );
        await appendEvent(trx, grantEvent('federation.grant.archived', grant, 'reconciler'), now);
      }
      if (archived.length > 0) this.deps.logger.info({ count: archived.length }, 'expired federation grants archived');
      return archived;
    });
  }
}

function checkScopes(scopes: readonly string[]): GrantScope[] {
  const unknown = scopes.filter((s) => !(GRANT_SCOPES as readonly string[]).includes(s));
  if (unknown.length > 0 || scopes.length === 0) {
    throw new InvalidInputError(
      scopes.length === 0 ? 'scopes must name at least one scope' : `unknown grant scope ${unknown.join(', ')}`,
      { hint: `scopes are ${GRANT_SCOPES.join(', ')}` },
    );
  }
  return normaliseScopes(scopes as GrantScope[]);
}

/**
 * The grant a managed_child handshake records, in the handshake's transaction: the parent's `received`
 * mirror at accept, the child's `issued` grant at activation. Nothing for other spawn modes.
 */
export async function recordHandshakeGrant(
  trx: Db,
  audit: AuditService,
  peer: FederationPeer,
  direction: GrantDirection,
  issuedBy: string,
  now: Date,
): Promise<FederationGrant | null> {
  if (peer.spawnMode !== 'managed_child') return null;
  const grant = await insertGrant(trx, {
    peerId: peer.id,
    direction,
    scopes: [...MANAGED_CHILD_SCOPES],
    expiresAt: new Date(now.getTime() + MANAGED_CHILD_GRANT_TTL_DAYS * DAY_MS),
    issuedBy,
    reason: 'managed_child handshake',
    at: now,
  });
  await audit.append(
    peer.id,
    { actor: issuedBy, action: 'federation.grant.issued', payload: { ...grantPayload(grant), reason: grant.reason } },
    trx,
  );
  await appendEvent(trx, grantEvent('federation.grant.issued', grant, issuedBy), now);
  return grant;
}

/**
 * Parent side of an emancipation the child announced: marks the `received` mirrors of its grants revoked
 * and the peering autonomous_peer, audited, in one transaction. Idempotent; false when nothing changed.
 * Pass an open transaction as `db` to run inside it.
 */
export async function applyRemoteEmancipation(db: Db, peerId: string, now: Date): Promise<boolean> {
  const run = async (trx: Db): Promise<boolean> => {
    const peer = await findPeerById(trx, peerId);
    if (peer === null || peer.spawnRole !== 'parent') return false;
    const actor = `peer:${peer.name}`;
    const revoked = await revokePeerGrants(trx, peer.id, 'received', actor, now);
    const flipped = await changePeerSpawnMode(trx, peer.id, 'managed_child', 'autonomous_peer', now);
    for (const grant of revoked) {
      await insertAuditEntry(
        trx,
        peer.id,
        { actor, action: 'federation.grant.revoked', payload: { ...grantPayload(grant), reason: 'emancipated' } },
        now,
      );
      await appendEvent(trx, grantEvent('federation.grant.revoked', grant, actor), now);
    }
    if (flipped) {
      await insertAuditEntry(
        trx,
        peer.id,
        {
          actor,
          action: 'federation.emancipated',
          payload: { by: 'remote', spawn_mode: 'autonomous_peer', previous_spawn_mode: 'managed_child' },
        },
        now,
      );
      await appendEvent(trx, emancipatedEvent(peer, actor, 'remote'), now);
    }
    return flipped || revoked.length > 0;
  };
  return db.isTransaction ? run(db) : db.transaction().execute(run);
}

/**
 * Withdraws every active grant of a peering (both directions), audited on its log, inside the caller's
 * transaction: for revoking the peering itself. Returns the grants withdrawn.
 */
export async function withdrawPeerGrants(
  trx: Db,
  audit: AuditService,
  peerId: string,
  actor: string,
  now: Date,
): Promise<FederationGrant[]> {
  const withdrawn: FederationGrant[] = [];
  for (const direction of ['issued', 'received'] as const) {
    withdrawn.push(...(await revokePeerGrants(trx, peerId, direction, actor, now)));
  }
  for (const grant of withdrawn) {
    await audit.append(
      peerId,
      { actor, action: 'federation.grant.revoked', payload: { ...grantPayload(grant), reason: 'peering revoked' } },
      trx,
    );
  }
  return withdrawn;
}
