// Data residency (P9.4) as a use case: set, clear and read a peer's policy, create one-time overrides,
// and enforce the policy before resources leave: a transfer that would take pinned kinds out of the
// region consumes one matching override or is refused and audited. Sends nothing itself.
import type { FederationPeer } from '../domain/federation.js';
import { isUuid, regionSchema } from '../domain/names.js';
import {
  canonicalKinds,
  RESIDENCY_VIOLATION_HINT,
  residencyDecision,
  residencyPolicySchema,
  resourceKindsSchema,
  type DeclaredResidency,
  type ResidencyDecision,
  type ResidencyOverride,
  type ResidencyPolicy,
  type ResourceKind,
  type StoredResidencyPolicy,
} from '../domain/residency.js';
import type { Caller } from '../domain/roles.js';
import { ConflictError, InvalidInputError, NotFoundError, ResidencyViolationError } from '../errors.js';
import { appendEvent } from '../store/events-repository.js';
import type { Db } from '../store/executor.js';
import { findPeerById, findPeerByName, setPinnedRegion } from '../store/peers-repository.js';
import {
  consumeResidencyOverride,
  deleteResidencyPolicy,
  findRemoteResidency,
  findResidencyPolicy,
  insertResidencyOverride,
  listOpenResidencyOverrides,
  upsertResidencyPolicy,
} from '../store/residency-repository.js';
import type { AuditService } from './audit-service.js';
import type { ServiceDeps } from './context.js';
import { requireRole } from './operators-service.js';

/** A peer's residency as `get_data_residency` shows it. */
export interface ResidencyState {
  peer: FederationPeer;
  /** This platform's policy for what it sends the peer; null when none. */
  policy: StoredResidencyPolicy | null;
  /** The policy the peer declared for what it sends us, as it told us at the handshake (shown, not enforced here). */
  remotePolicy: DeclaredResidency | null;
  /** Pinned kinds that could not be sent to the peer now (its region is outside the policy's, or unknown). */
  blockedKinds: ResourceKind[];
  openOverrides: ResidencyOverride[];
}

export type EnforceOutcome = { outcome: 'allowed' } | { outcome: 'overridden'; override: ResidencyOverride };

const MAX_REASON = 1000;

export class ResidencyService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly audit: AuditService,
  ) {}

  /** Replaces the peer's policy (`null` clears it), audited on the peer's log in the same transaction. */
  async set(
    caller: Caller,
    ref: string,
    policy: ResidencyPolicy | null,
  ): Promise<{ state: ResidencyState; previous: ResidencyPolicy | null }> {
    requireRole(caller, 'admin', 'setting a data residency policy');
    const parsed = policy === null ? null : parsePolicy(policy);
    const peer = await this.resolve(ref);
    if (peer.status === 'revoked') {
      throw new ConflictError(`federation peer ${ref} is revoked; nothing is sent to it any more`, {
        hint: 'propose a new peering and set its policy',
      });
    }
    const previous = await this.deps.db.transaction().execute(async (trx) => {
      const now = this.deps.clock.now();
      const before = await findResidencyPolicy(trx, peer.id);
      if (parsed === null) {
        if (before === null) return null; // nothing to clear: nothing written
        await deleteResidencyPolicy(trx, peer.id);
        await this.audit.append(
          peer.id,
          { actor: caller.name, action: 'data_residency.cleared', payload: { previous: before.policy } },
          trx,
        );
      } else {
        await upsertResidencyPolicy(trx, peer.id, parsed, caller.name, now);
        await this.audit.append(
          peer.id,
          {
            actor: caller.name,
            action: 'data_residency.set',
            payload: { policy: parsed, previous: before?.policy ?? null, peer_region: peer.region },
          },
          trx,
        );
      }
      await appendEvent(
        trx,
        {
          kind: parsed === null ? 'federation.data_residency.cleared' : 'federation.data_residency.set',
          actor: caller.name,
          payload: { peer_id: peer.id, name: peer.name, policy: parsed },
        },
        now,
      );
      return before?.policy ?? null;
    });
    return { state: await this.stateOf(peer), previous };
  }

  /**
   * Pins the region residency decisions use for the peer (`null` unpins: the region it declared at
   * acceptance counts again), audited on the peer's log. A later declaration by the peer never changes a pin.
   */
  async pinRegion(
    caller: Caller,
    ref: string,
    region: string | null,
  ): Promise<{ state: ResidencyState; previous: string | null }> {
    requireRole(caller, 'admin', "pinning a federation peer's region");
    if (region !== null) {
      const parsed = regionSchema.safeParse(region);
      if (!parsed.success) {
        throw new InvalidInputError(`region: ${parsed.error.issues[0]!.message}`, {
          hint: 'give the region the peer really runs in, e.g. eu-west-1, or null to trust its declared region',
        });
      }
    }
    const peer = await this.resolve(ref);
    const previous = peer.regionSource === 'pinned' ? peer.region : null;
    if (previous === region) return { state: await this.stateOf(peer), previous }; // unchanged: nothing written
    const pinned = await this.deps.db.transaction().execute(async (trx) => {
      const now = this.deps.clock.now();
      const updated = await setPinnedRegion(trx, peer.id, { region, by: caller.name, at: now });
      if (updated === null) throw new NotFoundError(`no federation peer ${ref}`);
      const payload = { region, previous_pin: previous, declared_region: peer.declaredRegion };
      const action = region === null ? 'federation.peer.region_unpinned' : 'federation.peer.region_pinned';
      await this.audit.append(peer.id, { actor: caller.name, action, payload }, trx);
      await appendEvent(
        trx,
        { kind: action, actor: caller.name, payload: { peer_id: peer.id, name: peer.name, ...payload } },
        now,
      );
      return updated;
    });
    return { state: await this.stateOf(pinned), previous };
  }

  /** The peer's policy, the policy it declared for us, and whether it complies now. */
  async get(ref: string): Promise<ResidencyState> {
    return this.stateOf(await this.resolve(ref));
  }

  /** A one-time, audited exception letting one transfer of (a subset of) `resourceKinds` through. */
  async override(
    caller: Caller,
    input: { ref: string; resourceKinds: readonly ResourceKind[]; reason: string },
  ): Promise<{ peer: FederationPeer; override: ResidencyOverride }> {
    requireRole(caller, 'admin', 'overriding a data residency policy');
    const kinds = resourceKindsSchema.safeParse(input.resourceKinds);
    if (!kinds.success) throw new InvalidInputError(`resource_kinds: ${kinds.error.issues[0]!.message}`);
    const reason = input.reason.trim();
    if (reason.length === 0 || reason.length > MAX_REASON) {
      throw new InvalidInputError(`reason must be 1–${MAX_REASON} characters`, {
        hint: 'say why this one transfer may leave the region; it is kept in the audit log',
      });
    }
    const peer = await this.resolve(input.ref);
    return this.deps.db.transaction().execute(async (trx) => {
      const now = this.deps.clock.now();
      const stored = await findResidencyPolicy(trx, peer.id);
      if (stored === null) {
        throw new ConflictError(`federation peer ${input.ref} has no data residency policy; nothing to override`, {
          hint: 'get_data_residency shows the policy; set_data_residency sets one',
        });
      }
      const unpinned = kinds.data.filter((k) => !stored.policy.resource_kinds.includes(k));
      if (unpinned.length > 0) {
        throw new InvalidInputError(
          `the policy of federation peer ${input.ref} does not pin ${unpinned.join(', ')}; only pinned kinds need an override`,
          { hint: `its policy pins ${stored.policy.resource_kinds.join(', ')}` },
        );
      }
      const override = await insertResidencyOverride(trx, {
        federationPeerId: peer.id,
        resourceKinds: canonicalKinds(kinds.data),
        reason,
        createdBy: caller.name,
        at: now,
      });
      await this.audit.append(
        peer.id,
        {
          actor: caller.name,
          action: 'data_residency.override_created',
          payload: { override_id: override.id, resource_kinds: override.resourceKinds, reason },
        },
        trx,
      );
      return { peer, override };
    });
  }

  /**
   * Enforces the peer's policy on a transfer of `kinds` to it, before anything is sent. Allowed: nothing
   * written. Violated: consumes the oldest open override covering the leaving kinds (audited
   * `data_residency.override_used`), else audits `data_residency.violation` and throws
   * `data_residency_violation`. Both entries are written on `db`: given a transaction, they commit or
   * roll back with it, so call this outside one (or commit before rethrowing) for a refusal to stay audited.
   */
  async enforce(
    db: Db,
    peer: FederationPeer,
    kinds: readonly ResourceKind[],
    action: string,
    actor = 'system',
  ): Promise<EnforceOutcome> {
    const stored = await findResidencyPolicy(db, peer.id);
    const decision = residencyDecision(stored?.policy ?? null, peer.region, kinds);
    if (decision.allowed) return { outcome: 'allowed' };
    const facts = {
      action,
      resource_kinds: decision.leaving,
      peer_region: decision.peerRegion,
      policy_region: decision.policyRegion,
    };
    const useOverride = async (trx: Db): Promise<ResidencyOverride | null> => {
      const now = this.deps.clock.now();
      const used = await consumeResidencyOverride(trx, peer.id, decision.leaving, action.slice(0, 200), now);
      if (used !== null) {
        await this.audit.append(
          peer.id,
          {
            actor,
            action: 'data_residency.override_used',
            payload: { ...facts, override_id: used.id, reason: used.reason, override_created_by: used.createdBy },
          },
          trx,
        );
      }
      return used;
    };
    const used = db.isTransaction ? await useOverride(db) : await db.transaction().execute(useOverride);
    if (used !== null) {
      this.deps.logger.info({ peerId: peer.id, action, overrideId: used.id }, 'data residency override used');
      return { outcome: 'overridden', override: used };
    }
    await this.audit.append(peer.id, { actor, action: 'data_residency.violation', payload: facts }, db);
    this.deps.logger.warn({ peerId: peer.id, ...facts }, 'data residency violation refused');
    const where = decision.peerRegion === null ? 'whose region is unknown' : `in ${decision.peerRegion}`;
    throw new ResidencyViolationError(
      `${action} would send ${decision.leaving.join(', ')} to federation peer ${peer.name} ${where}; ` +
        `its data residency policy keeps them in ${decision.policyRegion}`,
      { hint: RESIDENCY_VIOLATION_HINT, details: { federation_peer_id: peer.id, ...facts } },
    );
  }

  /**
   * For a transfer about to be queued inside a transaction (where a refusal's audit would roll back with
   * it): refuses it now, outside any transaction, audited, when the policy keeps `kinds` from the peer
   * and no open override could let it through. Allowed, or an override waiting: nothing written.
   */
  async preflight(peer: FederationPeer, kinds: readonly ResourceKind[], action: string, actor = 'system') {
    const decision = await this.check(peer, kinds);
    if (decision.allowed) return;
    const open = await listOpenResidencyOverrides(this.deps.db, peer.id);
    if (open.some((o) => decision.leaving.every((k) => o.resourceKinds.includes(k)))) return;
    await this.enforce(this.deps.db, peer, kinds, action, actor);
  }

  /** Whether sending `kinds` to the peer keeps its policy now. Reads only: uses no override, audits nothing. */
  async check(peer: FederationPeer, kinds: readonly ResourceKind[]): Promise<ResidencyDecision> {
    const stored = await findResidencyPolicy(this.deps.db, peer.id);
    return residencyDecision(stored?.policy ?? null, peer.region, kinds);
  }

  /** The policy this platform declares for `peerId` (the accept answer carries it to the peer). */
  async declaredFor(db: Db, peerId: string): Promise<ResidencyPolicy[]> {
    const stored = await findResidencyPolicy(db, peerId);
    return stored === null ? [] : [stored.policy];
  }

  private async stateOf(peer: FederationPeer): Promise<ResidencyState> {
    const db = this.deps.db;
    const [policy, remotePolicy, openOverrides] = await Promise.all([
      findResidencyPolicy(db, peer.id),
      findRemoteResidency(db, peer.id),
      listOpenResidencyOverrides(db, peer.id),
    ]);
    const decision =
      policy === null
        ? { allowed: true as const }
        : residencyDecision(policy.policy, peer.region, policy.policy.resource_kinds);
    return { peer, policy, remotePolicy, blockedKinds: decision.allowed ? [] : decision.leaving, openOverrides };
  }

  /** A peer by id or by name; errors name it as the caller gave it. */
  private async resolve(ref: string): Promise<FederationPeer> {
    const db = this.deps.db;
    const peer = isUuid(ref) ? await findPeerById(db, ref) : await findPeerByName(db, ref);
    if (peer === null) {
      throw new NotFoundError(`no federation peer ${ref}`, {
        hint: 'list_federation_peers shows peers by id and name',
      });
    }
    return peer;
  }
}

function parsePolicy(policy: ResidencyPolicy): ResidencyPolicy {
  const parsed = residencyPolicySchema.safeParse(policy);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InvalidInputError(`policy.${issue.path.join('.') || 'policy'}: ${issue.message}`, {
      hint: 'policy is { resource_kinds: [...], constraint: "must_not_leave_region", region: "eu-west-1" }',
    });
  }
  return { ...parsed.data, resource_kinds: canonicalKinds(parsed.data.resource_kinds) };
}
