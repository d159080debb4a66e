// Failover and failback of federated deployment shares, a step of every reconciliation tick. A member
// that cannot carry its share any more (not active: lost contact, revoked; excluded by residency or the
// boundary; fewer online instances than its share) has its replicas placed again over the others by the
// deployment's own policy, within the same hard constraints. When every member can carry its planned
// share again and the deployment's `failback` says so, the planned shares come back. Both are events and
// entries in the audit log of every peer whose share changed. The decision is the pure rules in
// `src/domain/federated-deployment.ts` and `planPlacement`; this module gathers facts and writes.
import {
  failbackReady,
  failoverReasons,
  overrideGroups,
  type DeploymentShare,
  type FederatedDeployment,
  type MemberAvailability,
} from '../domain/federated-deployment.js';
import type { FederationPeer } from '../domain/federation.js';
import { planPlacement } from '../domain/placement.js';
import { appendEvent } from '../store/events-repository.js';
import type { Db } from '../store/executor.js';
import {
  findFederatedDeployment,
  insertShare,
  listShares,
  updateShare,
} from '../store/federated-deployments-repository.js';
import { findPeerByName } from '../store/peers-repository.js';
import type { AuditService } from './audit-service.js';
import type { ServiceDeps } from './context.js';
import type { CandidateFacts, PlacementService } from './placement-service.js';

type Dispatch = (db: Db, d: FederatedDeployment, share: DeploymentShare, onBehalfOf: string) => Promise<void>;
type Move = 'failover' | 'failback' | 'release';

export class DeploymentRebalancer {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly placement: PlacementService,
    private readonly audit: AuditService,
    private readonly dispatch: Dispatch,
  ) {}

  /** Moves shares where members changed; true when any share changed. */
  async run(active: { deployment: FederatedDeployment; shares: DeploymentShare[] }[], now: Date): Promise<boolean> {
    let changed = false;
    const peers = new Map<string, FederationPeer | null>();
    for (const { deployment, shares } of active) {
      const candidates = await this.candidates(deployment, peers);
      const members = candidates.map(toMember);
      const reasons = failoverReasons(shares, members);
      let desired: Map<string | null, number> | null = null;
      let move: Move | null = null;
      if (reasons.length > 0) {
        const plan = planPlacement({
          replicas: deployment.replicas,
          peers: candidates,
          placement: deployment.placement,
        });
        desired = new Map(shares.map((s) => [s.federationPeerId, 0]));
        for (const s of plan.shares) desired.set(keyOf(candidates, s.peer.id), s.replicas);
        move = 'failover';
        if (plan.unplaced > 0) reasons.push(`${plan.unplaced} replica(s) fit nowhere now`);
      } else if (failbackReady(deployment.failback, shares, members)) {
        desired = new Map(shares.map((s) => [s.federationPeerId, s.plannedReplicas]));
        move = 'failback';
      } else if (!deployment.failback) {
        // A member back after a failover that is not failed back: tell it what it runs now. (With failback,
        // it keeps what it ran until the planned shares come back, so nothing moves twice.)
        const back = shares.filter((s) => s.state === 'failed_over' && memberOf(members, s)?.available === true);
        if (back.length > 0) {
          desired = new Map(back.map((s) => [s.federationPeerId, s.desiredReplicas]));
          move = 'release';
        }
      }
      if (desired === null || move === null) continue;
      changed = (await this.apply(deployment, shares, members, desired, move, reasons, now)) || changed;
    }
    return changed;
  }

  /** The deployment's members as placement candidates; `seen` holds the peers read so far this tick. */
  private async candidates(
    d: FederatedDeployment,
    seen: Map<string, FederationPeer | null>,
  ): Promise<CandidateFacts[]> {
    const peers: FederationPeer[] = [];
    for (const name of d.peers) {
      if (!seen.has(name)) seen.set(name, await findPeerByName(this.deps.db, name));
      const peer = seen.get(name);
      if (peer != null) peers.push(peer);
    }
    return this.placement.candidates(peers, d.groupName, d.includeLocal, {
      moduleName: d.moduleName,
      groups: overrideGroups(d.overrides),
      deploymentId: d.id,
    });
  }

  /**
   * Writes the moved shares in one transaction, under the deployment's lock, and only if the shares are
   * still the ones the decision was made on (another replica may have moved them first).
   */
  private async apply(
    d: FederatedDeployment,
    seen: DeploymentShare[],
    members: MemberAvailability[],
    desired: Map<string | null, number>,
    move: Move,
    reasons: string[],
    now: Date,
  ): Promise<boolean> {
    return this.deps.db.transaction().execute(async (trx) => {
      const locked = await findFederatedDeployment(trx, { id: d.id }, { forUpdate: true });
      if (locked === null || locked.state !== 'active') return false;
      const shares = await listShares(trx, d.id);
      // Order-free: the shares as a set, whatever order each read returned them in.
      const fingerprint = (list: DeploymentShare[]) =>
        list
          .map((s) => `${s.id}:${s.desiredReplicas}:${s.state === 'failed_over'}`)
          .sort()
          .join(',');
      if (fingerprint(shares) !== fingerprint(seen)) return false;
      const from: Record<string, number> = {};
      const to: Record<string, number> = {};
      const touched: DeploymentShare[] = [];
      for (const [peerId, replicas] of desired) {
        const member = members.find((m) => m.federationPeerId === peerId);
        const old = shares.find((s) => s.federationPeerId === peerId);
        if (move !== 'release' && old !== undefined && old.desiredReplicas === replicas) continue;
        if (old === undefined && replicas === 0) continue;
        const available = member?.available === true;
        const state = available ? 'pending' : 'failed_over';
        const name = old?.peerName ?? member?.peerName ?? 'unknown';
        let share: DeploymentShare;
        if (old === undefined) {
          share = await insertShare(trx, {
            federatedDeploymentId: d.id,
            federationPeerId: peerId,
            peerName: name,
            plannedReplicas: 0,
            desiredReplicas: replicas,
            version: d.version,
            groupName: d.groupName,
            at: now,
          });
        } else {
          share = { ...old, desiredReplicas: replicas, state };
        }
        await updateShare(trx, share.id, { desiredReplicas: replicas, state, lastError: null }, now);
        from[name] = old?.desiredReplicas ?? 0;
        to[name] = replicas;
        touched.push(share);
        if (available) await this.dispatch(trx, d, share, d.createdBy);
      }
      if (touched.length === 0) return false;
      const payload = { federated_deployment_id: d.id, name: d.name, from, to, reasons };
      for (const share of touched) {
        if (share.federationPeerId === null) continue;
        await this.audit.append(
          share.federationPeerId,
          { actor: 'reconciler', action: `federated_deployment.${move}`, payload },
          trx,
        );
      }
      await appendEvent(trx, { kind: `federation.deployment.${move}`, actor: 'reconciler', payload }, now);
      return true;
    });
  }
}

function toMember(c: CandidateFacts): MemberAvailability {
  return {
    federationPeerId: c.local ? null : c.id,
    peerName: c.name,
    available: c.allowed,
    capacity: c.capacity,
    reasons: c.reasons,
  };
}

function keyOf(candidates: CandidateFacts[], id: string): string | null {
  return candidates.find((c) => c.id === id)?.local === true ? null : id;
}

function memberOf(members: MemberAvailability[], s: DeploymentShare): MemberAvailability | undefined {
  return members.find((m) => m.federationPeerId === s.federationPeerId);
}
