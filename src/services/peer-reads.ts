// Reads across a peering, both ends: the peer operations `inventory.summary` and `module_versions.list`
// this platform answers (behind the boundary, authorization and residency gates of peer-calls.ts), the
// reads an operator makes of a peer through them, and the federation topology as this side sees it.
import type { FederationPeer } from '../domain/federation.js';
import {
  INVENTORY_INSTANCE_LIMIT,
  inventoryArgsSchema,
  inventorySummarySchema,
  MODULE_VERSIONS_LIMIT,
  moduleVersionsAnswerSchema,
  moduleVersionsArgsSchema,
  summarizeBoundary,
  type BoundarySummary,
  type InventorySummary,
  type ModuleVersionsAnswer,
} from '../domain/peer-reads.js';
import { residencyDecision, type ResidencyPolicy } from '../domain/residency.js';
import type { Caller } from '../domain/roles.js';
import { NotFoundError, UnavailableError } from '../errors.js';
import { listBoundaryRules } from '../store/boundary-rules-repository.js';
import type { Db } from '../store/executor.js';
import { findGroup } from '../store/groups-repository.js';
import { findModule } from '../store/modules-repository.js';
import { countFleet, listAllPeers, listFleetInstances, listModuleVersionRows } from '../store/peer-reads-repository.js';
import { findResidencyPolicy } from '../store/residency-repository.js';
import type { ServiceDeps } from './context.js';
import type { FederationService } from './federation-service.js';
import type { PeerCalls } from './peer-calls.js';

/** One peering as the topology shows it. */
export interface TopologyEntry {
  peer: FederationPeer;
  boundary: BoundarySummary;
  residency: ResidencyPolicy | null;
  residencyComplies: boolean;
}

export class PeerReads {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly federation: FederationService,
  ) {}

  /** Registers the operations peers may call to read this platform. */
  register(calls: PeerCalls): void {
    calls.register({
      name: 'inventory.summary',
      capability: 'inventory.read',
      residencyKinds: ['inventory'],
      args: inventoryArgsSchema,
      handle: ({ db, args }) => inventorySummary(db, args.group),
    });
    calls.register({
      name: 'module_versions.list',
      capability: 'versions.read',
      residencyKinds: ['module_config'],
      args: moduleVersionsArgsSchema,
      handle: ({ db, args }) => moduleVersions(db, args.module_name),
    });
  }

  /** The peer's fleet summarized, read on behalf of `caller` (matched by name to an operator there). */
  async inventory(
    caller: Caller,
    ref: string,
    group?: string,
  ): Promise<{ peer: FederationPeer; summary: InventorySummary }> {
    const peer = await this.federation.resolve(ref);
    const answer = await this.read(caller, peer, 'inventory.summary', group === undefined ? {} : { group });
    return { peer, summary: parseAnswer(peer, 'inventory.summary', inventorySummarySchema, answer) };
  }

  /** The peer's modules and versions, read on behalf of `caller`. */
  async moduleVersions(
    caller: Caller,
    ref: string,
    moduleName?: string,
  ): Promise<{ peer: FederationPeer; answer: ModuleVersionsAnswer }> {
    const peer = await this.federation.resolve(ref);
    const args = moduleName === undefined ? {} : { module_name: moduleName };
    const answer = await this.read(caller, peer, 'module_versions.list', args);
    return { peer, answer: parseAnswer(peer, 'module_versions.list', moduleVersionsAnswerSchema, answer) };
  }

  /** Every peering with its heartbeat, round trip, what its ingress boundary lets through, and its policy. */
  async topology(opts: { includeRevoked: boolean }): Promise<TopologyEntry[]> {
    const db = this.deps.db;
    const peers = await listAllPeers(db, opts);
    return Promise.all(
      peers.map(async (peer) => {
        const [rules, stored] = await Promise.all([
          listBoundaryRules(db, peer.id, 'ingress'),
          findResidencyPolicy(db, peer.id),
        ]);
        const policy = stored?.policy ?? null;
        return {
          peer,
          boundary: summarizeBoundary(rules),
          residency: policy,
          residencyComplies: policy === null || residencyDecision(policy, peer.region, policy.resource_kinds).allowed,
        };
      }),
    );
  }

  private read(
    caller: Caller,
    peer: FederationPeer,
    operation: 'inventory.summary' | 'module_versions.list',
    args: Record<string, unknown>,
  ): Promise<unknown> {
    return this.federation.calls.request(peer, operation, args, { onBehalfOf: caller.name, actor: caller.name });
  }
}

async function inventorySummary(db: Db, groupName: string | undefined): Promise<InventorySummary> {
  let groupId: string | undefined;
  if (groupName !== undefined) {
    const group = await findGroup(db, { name: groupName });
    if (group === null) throw new NotFoundError(`no group ${groupName} on this platform`);
    groupId = group.id;
  }
  const [counts, instances] = await Promise.all([
    countFleet(db, groupId),
    listFleetInstances(db, { ...(groupId === undefined ? {} : { groupId }), limit: INVENTORY_INSTANCE_LIMIT + 1 }),
  ]);
  const byGroup: Record<string, number> = {};
  const byStatus: Record<string, number> = {};
  const byRegion: Record<string, number> = {};
  let total = 0;
  for (const row of counts) {
    total += row.count;
    byGroup[row.group] = (byGroup[row.group] ?? 0) + row.count;
    byStatus[row.status] = (byStatus[row.status] ?? 0) + row.count;
    const region = row.region ?? 'unknown';
    byRegion[region] = (byRegion[region] ?? 0) + row.count;
  }
  return {
    group: groupName ?? null,
    total_instances: total,
    by_group: byGroup,
    by_status: byStatus,
    by_region: byRegion,
    instances: instances.slice(0, INVENTORY_INSTANCE_LIMIT).map((i) => ({
      name: i.name,
      group: i.group,
      region: i.region,
      status: i.status,
      last_heartbeat_at: i.lastHeartbeatAt?.toISOString() ?? null,
      running_module_digests: i.runningModuleDigests,
    })),
    truncated: instances.length > INVENTORY_INSTANCE_LIMIT,
  };
}

async function moduleVersions(db: Db, moduleName: string | undefined): Promise<ModuleVersionsAnswer> {
  let moduleId: string | undefined;
  if (moduleName !== undefined) {
    const found = await findModule(db, { name: moduleName });
    if (found === null) throw new NotFoundError(`no module ${moduleName} on this platform`);
    moduleId = found.id;
  }
  const rows = await listModuleVersionRows(db, {
    ...(moduleId === undefined ? {} : { moduleId }),
    limit: MODULE_VERSIONS_LIMIT + 1,
  });
  const modules = new Map<string, ModuleVersionsAnswer['modules'][number]>();
  for (const row of rows.slice(0, MODULE_VERSIONS_LIMIT)) {
    let entry = modules.get(row.module);
    if (entry === undefined) modules.set(row.module, (entry = { name: row.module, versions: [] }));
    entry.versions.push({
      version: row.version,
      lifecycle_state: row.lifecycleState,
      digest: row.digest,
      created_at: row.createdAt.toISOString(),
    });
  }
  return { modules: [...modules.values()], truncated: rows.length > MODULE_VERSIONS_LIMIT };
}

/** A peer's answer checked against the shape this side publishes; anything else is the peer's fault. */
function parseAnswer<T>(
  peer: FederationPeer,
  operation: string,
  schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { message: string } } },
  answer: unknown,
): T {
  const parsed = schema.safeParse(answer);
  if (parsed.success) return parsed.data;
  throw new UnavailableError(`federation peer ${peer.name} answered ${operation} with an unreadable body`, {
    hint: 'the peer may run an incompatible version; compare contract_version in list_federation_peers',
    details: { problem: parsed.error.message.slice(0, 500) },
  });
}
