// Placement as a use case: gathers each candidate's facts (status, region, the capacity and cost it last
// reported in heartbeats, data residency, boundary rules) and runs the pure engine. Reads only: it
// uses no residency override, audits nothing and writes nothing; federated deployments call it to plan.
import { evaluateBoundary } from '../domain/capabilities.js';
import type { FederationPeer } from '../domain/federation.js';
import {
  planPlacement,
  type PlacementCandidate,
  type PlacementPolicy,
  type PlacementResult,
} from '../domain/placement.js';
import type { ResourceKind } from '../domain/residency.js';
import type { ModuleVersion } from '../domain/types.js';
import { InvalidInputError } from '../errors.js';
import {
  countDeploymentReplicas,
  countOnlineInstancesByGroup,
  findReportedCapacities,
  listIngressRulesByPeer,
  replicasKey,
} from '../store/placement-repository.js';
import { OUTBOUND_OPERATIONS } from '../domain/outbound-operations.js';
import type { ServiceDeps } from './context.js';
import type { FederationService } from './federation-service.js';
import type { ModulesService } from './modules-service.js';
import type { PlacementReport } from './peer-heartbeats.js';
import type { ResidencyService } from './residency-service.js';

/** What a share sends a peer (the deployment itself and the module's configuration), as deployments.assign declares. */
export const PLACEMENT_RESIDENCY_KINDS: readonly ResourceKind[] = OUTBOUND_OPERATIONS['deployments.assign'].carries;
/** The capability a peer's share is delivered under. */
export const PLACEMENT_CAPABILITY = 'deployments.assign' as const;
export const DEFAULT_COST_PER_INSTANCE = 1;

/** This platform as a placement candidate. */
export interface LocalPlatform {
  id: string;
  name: string;
  region: string | null;
  costPerInstance: number;
}

/** A candidate with the facts it was judged on. */
export interface CandidateFacts extends PlacementCandidate {
  local: boolean;
  capacityReportedAt: Date | null;
  /** The group placed there (the deployment's, or a per-peer override's). */
  group: string;
  /** Replicas of the module other deployments hold there: taken off `capacity`, which is what is free. */
  heldByOthers: number;
}

/** Which deployment is placed: its module, per-peer groups, and its id once it exists. */
export interface PlacementScope {
  moduleName: string;
  /** Per candidate name: the group it runs instead of the default one. */
  groups?: Readonly<Record<string, string>>;
  deploymentId?: string | null;
}

export interface PlanPlacementInput {
  moduleName: string;
  version: string;
  replicas: number;
  group: string;
  /** Peers by id or name. */
  peers: readonly string[];
  includeLocal: boolean;
  placement: PlacementPolicy;
  /** Per candidate name: the group it runs instead of `group` (a deployment's overrides). */
  groups?: Readonly<Record<string, string>>;
  /** The deployment placed again (an update): its own replicas are not taken off any capacity. */
  deploymentId?: string | null;
}

export interface PlacementPlan {
  moduleVersion: ModuleVersion;
  group: string;
  candidates: CandidateFacts[];
  result: PlacementResult;
}

export class PlacementService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly modules: ModulesService,
    private readonly federation: FederationService,
    private readonly residency: ResidencyService,
    private readonly local: LocalPlatform,
  ) {}

  /** What this platform's heartbeats tell its peers: online instances per group, and its cost. */
  async localReport(): Promise<PlacementReport> {
    return {
      capacity: await countOnlineInstancesByGroup(this.deps.db),
      cost_per_instance: this.local.costPerInstance,
    };
  }

  /**
   * Each peer's (and this platform's, with includeLocal) facts for placing `group` (or a candidate's own
   * group in `scope.groups`), hard constraints applied. Capacity is what is free for the module: online
   * instances of the group less what other deployments of it created here hold there.
   */
  async candidates(
    peers: readonly FederationPeer[],
    group: string,
    includeLocal: boolean,
    scope: PlacementScope,
  ): Promise<CandidateFacts[]> {
    const ids = peers.map((p) => p.id);
    const [reports, rules, held] = await Promise.all([
      findReportedCapacities(this.deps.db, ids),
      listIngressRulesByPeer(this.deps.db, ids),
      countDeploymentReplicas(this.deps.db, {
        moduleName: scope.moduleName,
        exceptDeploymentId: scope.deploymentId ?? null,
      }),
    ]);
    const groupOf = (name: string): string => scope.groups?.[name] ?? group;
    const free = (reported: number, peerId: string | null, g: string) => {
      const others = held.get(replicasKey(peerId, g)) ?? 0;
      return { capacity: Math.max(0, reported - others), heldByOthers: others };
    };
    const out: CandidateFacts[] = [];
    for (const peer of peers) {
      const reasons: string[] = [];
      if (peer.status !== 'active') reasons.push(`federation peer ${peer.name} is ${peer.status}, not active`);
      const residency = await this.residency.check(peer, PLACEMENT_RESIDENCY_KINDS);
      if (!residency.allowed) {
        const where = residency.peerRegion === null ? 'its region is unknown' : `it is in ${residency.peerRegion}`;
        reasons.push(`data residency keeps ${residency.leaving.join(', ')} in ${residency.policyRegion} and ${where}`);
      }
      const boundary = evaluateBoundary(rules.get(peer.id) ?? [], PLACEMENT_CAPABILITY);
      if (boundary.action === 'drop') reasons.push(`boundary rule ${boundary.rule} drops ${PLACEMENT_CAPABILITY}`);
      const report = reports.get(peer.id);
      const g = groupOf(peer.name);
      const room = report?.capacity == null ? null : free(report.capacity[g] ?? 0, peer.id, g);
      out.push({
        id: peer.id,
        name: peer.name,
        region: peer.region,
        status: peer.status,
        capacity: room?.capacity ?? null,
        heldByOthers: room?.heldByOthers ?? 0,
        group: g,
        costPerInstance: report?.costPerInstance ?? null,
        allowed: reasons.length === 0,
        reasons,
        local: false,
        capacityReportedAt: report?.reportedAt ?? null,
      });
    }
    if (includeLocal) {
      const own = await countOnlineInstancesByGroup(this.deps.db);
      const g = groupOf(this.local.name);
      const room = free(own[g] ?? 0, null, g);
      out.push({
        id: this.local.id,
        name: this.local.name,
        region: this.local.region,
        status: 'active',
        capacity: room.capacity,
        heldByOthers: room.heldByOthers,
        group: g,
        costPerInstance: this.local.costPerInstance,
        allowed: true,
        reasons: [],
        local: true,
        capacityReportedAt: this.deps.clock.now(),
      });
    }
    return out;
  }

  /** A dry run: the shares `placement` gives `replicas` of the version over the peers. Writes nothing. */
  async plan(input: PlanPlacementInput): Promise<PlacementPlan> {
    if (input.peers.length === 0 && !input.includeLocal) {
      throw new InvalidInputError('name at least one peer, or set include_local', {
        hint: 'list_federation_peers shows the peers',
      });
    }
    const moduleVersion = await this.modules.resolveVersion(input.version, { moduleName: input.moduleName });
    const peers: FederationPeer[] = [];
    for (const ref of input.peers) {
      const peer = await this.federation.resolve(ref);
      if (peers.some((p) => p.id === peer.id)) throw new InvalidInputError(`peers names ${ref} twice`);
      if (input.includeLocal && (peer.name === this.local.name || peer.id === this.local.id)) {
        throw new InvalidInputError(
          `federation peer ${ref} has this platform's name; placement could not tell them apart`,
          {
            hint: 'leave include_local off, or rename one of them',
          },
        );
      }
      peers.push(peer);
    }
    const candidates = await this.candidates(peers, input.group, input.includeLocal, {
      moduleName: moduleVersion.moduleName,
      ...(input.groups === undefined ? {} : { groups: input.groups }),
      deploymentId: input.deploymentId ?? null,
    });
    const result = planPlacement({ replicas: input.replicas, peers: candidates, placement: input.placement });
    return { moduleVersion, group: input.group, candidates, result };
  }
}
