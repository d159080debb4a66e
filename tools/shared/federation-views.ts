// Output shapes of the federation tools and the mappers from domain objects to them.
import { z } from 'zod';
import { safeText } from '../../src/domain/text.js';
import type { AuditEntry } from '../../src/domain/audit.js';
import {
  BOUNDARY_ACTIONS,
  BOUNDARY_DIRECTIONS,
  CAPABILITIES,
  GRANT_DIRECTIONS,
  GRANT_SCOPES,
  GRANT_STATUSES,
  type BoundaryRule,
  type FederationGrant,
} from '../../src/domain/capabilities.js';
import {
  PEER_STATUSES,
  REGION_SOURCES,
  SPAWN_MODES,
  SPAWN_ROLES,
  type FederationPeer,
} from '../../src/domain/federation.js';
import {
  RESIDENCY_CONSTRAINTS,
  RESOURCE_KINDS,
  residencyPolicySchema,
  type ResidencyOverride,
} from '../../src/domain/residency.js';
import { isoTime } from '../../src/mcp/schemas.js';
import type { TopologyEntry } from '../../src/services/peer-reads.js';
import type { ResidencyState } from '../../src/services/residency-service.js';
import { CHILD_STATUSES, type SpawnedChild } from '../../src/domain/spawn.js';
import type { ListedMember } from '../../src/services/cluster-service.js';

export const federationPeerIdInput = safeText({ min: 1, max: 200 }).describe(
  'the peer id or its name, as list_federation_peers shows them',
);

export const federationPeerView = z.object({
  id: z.string(),
  name: z.string(),
  spawn_role: z.enum(SPAWN_ROLES).describe('role of this platform in the peering: parent proposed, child accepted'),
  spawn_mode: z.enum(SPAWN_MODES),
  status: z.enum(PEER_STATUSES),
  remote_platform_url: z.string().nullable(),
  contract_version: z.string().nullable(),
  region: z
    .string()
    .nullable()
    .describe(
      'region of the remote platform as data residency counts it: the pinned one if set, else the declared one',
    ),
  region_source: z
    .enum(REGION_SOURCES)
    .describe(
      'declared: the peer said so at acceptance (trusted as is); pinned: an admin set it (set_federation_peer_region)',
    ),
  declared_region: z.string().nullable().describe('the region the peer declared at acceptance'),
  last_heartbeat_at: isoTime.nullable().describe('when this side last heard from the peer'),
  last_rtt_ms: z.number().int().nullable().describe('round trip of the last answered heartbeat'),
  audit_chain_mismatch_at: isoTime
    .nullable()
    .describe('when a heartbeat showed the peer’s audit history for this peering rewritten; null while consistent'),
  created_at: isoTime,
});

export function toPeerView(p: FederationPeer): z.infer<typeof federationPeerView> {
  return {
    id: p.id,
    name: p.name,
    spawn_role: p.spawnRole,
    spawn_mode: p.spawnMode,
    status: p.status,
    remote_platform_url: p.remotePlatformUrl,
    contract_version: p.contractVersion,
    region: p.region,
    region_source: p.regionSource,
    declared_region: p.declaredRegion,
    last_heartbeat_at: p.lastHeartbeatAt?.toISOString() ?? null,
    last_rtt_ms: p.lastRttMs,
    audit_chain_mismatch_at: p.chainMismatchAt?.toISOString() ?? null,
    created_at: p.createdAt.toISOString(),
  };
}

export const auditEntryView = z.object({
  sequence: z.number().int(),
  action: z.string(),
  at: isoTime,
  actor: z.string(),
  payload: z.record(z.string(), z.unknown()),
  prev_hash: z.string(),
  hash: z.string(),
});

export function toAuditEntryView(e: AuditEntry): z.infer<typeof auditEntryView> {
  return {
    sequence: e.sequence,
    action: e.action,
    at: e.at.toISOString(),
    actor: e.actor,
    payload: e.payload,
    prev_hash: e.prevHash,
    hash: e.hash,
  };
}

// ---- data residency -----------------------------------------------------------------------------

export const residencyPolicyInput = residencyPolicySchema;

export const residencyPolicyView = z.object({
  resource_kinds: z.array(z.enum(RESOURCE_KINDS)),
  constraint: z.enum(RESIDENCY_CONSTRAINTS),
  region: z.string(),
});

export const residencyOverrideView = z.object({
  id: z.string(),
  federation_peer_id: z.string(),
  resource_kinds: z.array(z.enum(RESOURCE_KINDS)),
  reason: z.string(),
  created_by: z.string(),
  created_at: isoTime,
  consumed_at: isoTime.nullable(),
  consumed_action: z.string().nullable(),
});

export function toResidencyOverrideView(o: ResidencyOverride): z.infer<typeof residencyOverrideView> {
  return {
    id: o.id,
    federation_peer_id: o.federationPeerId,
    resource_kinds: o.resourceKinds,
    reason: o.reason,
    created_by: o.createdBy,
    created_at: o.createdAt.toISOString(),
    consumed_at: o.consumedAt?.toISOString() ?? null,
    consumed_action: o.consumedAction,
  };
}

/** A peer's data residency, as get_data_residency and set_data_residency answer. */
export const residencyOutput = {
  federation_peer_id: z.string(),
  federation_peer_name: z.string(),
  policy: residencyPolicyView.nullable().describe('what this platform may send the peer; null when unrestricted'),
  set_by: z.string().nullable(),
  set_at: isoTime.nullable(),
  remote_policy: z
    .object({ resource_kinds: z.array(z.string()), constraint: z.string(), region: z.string() })
    .nullable()
    .describe(
      'the policy the peer declared for what it sends this platform (at the handshake); shown, not enforced here',
    ),
  peer_region: z
    .string()
    .nullable()
    .describe('the region residency decisions use for the peer; unknown counts as outside every region'),
  peer_region_source: z
    .enum(REGION_SOURCES)
    .describe('declared: as the peer reported it at acceptance; pinned: as an admin set it'),
  peer_declared_region: z.string().nullable().describe('the region the peer declared at acceptance'),
  complies: z.boolean().describe('true when every pinned kind could be sent to the peer now'),
  blocked_kinds: z.array(z.enum(RESOURCE_KINDS)).describe('pinned kinds that would be refused now'),
  open_overrides: z.array(residencyOverrideView).describe('one-time overrides not used yet, oldest first'),
};

export function toResidencyOutput(s: ResidencyState): z.infer<z.ZodObject<typeof residencyOutput>> {
  return {
    federation_peer_id: s.peer.id,
    federation_peer_name: s.peer.name,
    policy: s.policy?.policy ?? null,
    set_by: s.policy?.setBy ?? null,
    set_at: s.policy?.setAt.toISOString() ?? null,
    remote_policy: s.remotePolicy,
    peer_region: s.peer.region,
    peer_region_source: s.peer.regionSource,
    peer_declared_region: s.peer.declaredRegion,
    complies: s.blockedKinds.length === 0,
    blocked_kinds: s.blockedKinds,
    open_overrides: s.openOverrides.map(toResidencyOverrideView),
  };
}

export const federationGrantView = z.object({
  id: z.string(),
  federation_peer_id: z.string(),
  peer_name: z.string(),
  direction: z
    .enum(GRANT_DIRECTIONS)
    .describe('issued: rights the peer holds here (enforced); received: rights this platform holds on the peer'),
  scopes: z.array(z.enum(GRANT_SCOPES)),
  status: z.enum(GRANT_STATUSES),
  expires_at: isoTime,
  issued_by: z.string(),
  created_at: isoTime,
  revoked_at: isoTime.nullable(),
  archived_at: isoTime.nullable(),
});

export function toGrantView(g: FederationGrant): z.infer<typeof federationGrantView> {
  return {
    id: g.id,
    federation_peer_id: g.federationPeerId,
    peer_name: g.peerName,
    direction: g.direction,
    scopes: g.scopes,
    status: g.status,
    expires_at: g.expiresAt.toISOString(),
    issued_by: g.issuedBy,
    created_at: g.createdAt.toISOString(),
    revoked_at: g.revokedAt?.toISOString() ?? null,
    archived_at: g.archivedAt?.toISOString() ?? null,
  };
}

export const capabilityInput = z
  .enum(CAPABILITIES)
  .describe('what a peer call asks for, e.g. inventory.read or rollouts.request; * matches every capability');

export const boundaryRuleView = z.object({
  id: z.string(),
  federation_peer_id: z.string(),
  direction: z.enum(BOUNDARY_DIRECTIONS),
  action: z.enum(BOUNDARY_ACTIONS),
  capability: z.enum(CAPABILITIES),
  priority: z.number().int().describe('rules are evaluated by ascending priority; the first match wins'),
  created_by: z.string(),
  created_at: isoTime,
});

export function toBoundaryRuleView(r: BoundaryRule): z.infer<typeof boundaryRuleView> {
  return {
    id: r.id,
    federation_peer_id: r.federationPeerId,
    direction: r.direction,
    action: r.action,
    capability: r.capability,
    priority: r.priority,
    created_by: r.createdBy,
    created_at: r.createdAt.toISOString(),
  };
}

// ---- peer reads and topology --------------------------------------------------------------------

export const topologyPeerView = z.object({
  id: z.string(),
  name: z.string(),
  spawn_role: z.enum(SPAWN_ROLES),
  spawn_mode: z.enum(SPAWN_MODES),
  status: z.enum(PEER_STATUSES),
  remote_platform_url: z.string().nullable(),
  region: z.string().nullable(),
  last_heartbeat_at: isoTime.nullable(),
  last_rtt_ms: z.number().nullable().describe('round trip of the last answered heartbeat or call, in ms'),
  boundary: z
    .object({
      ingress_rules: z.number().int(),
      allowed_capabilities: z.array(z.enum(CAPABILITIES)),
      dropped_capabilities: z.array(z.enum(CAPABILITIES)),
    })
    .describe('what the ingress boundary lets this peer call now (no rules: everything)'),
  data_residency: residencyPolicyView.nullable().describe('what this platform may send the peer; null: unrestricted'),
  residency_complies: z.boolean().describe('false when the peer is outside its policy region'),
});

export function toTopologyPeerView(e: TopologyEntry): z.infer<typeof topologyPeerView> {
  return {
    id: e.peer.id,
    name: e.peer.name,
    spawn_role: e.peer.spawnRole,
    spawn_mode: e.peer.spawnMode,
    status: e.peer.status,
    remote_platform_url: e.peer.remotePlatformUrl,
    region: e.peer.region,
    last_heartbeat_at: e.peer.lastHeartbeatAt?.toISOString() ?? null,
    last_rtt_ms: e.peer.lastRttMs,
    boundary: {
      ingress_rules: e.boundary.rules,
      allowed_capabilities: e.boundary.allowed,
      dropped_capabilities: e.boundary.dropped,
    },
    data_residency: e.residency,
    residency_complies: e.residencyComplies,
  };
}

/** A child platform spawned by this platform (spawn_child_platform, terminate_instance). */
export const spawnedChildView = z.object({
  child_instance_id: z.string().describe('give it to terminate_instance to stop the child'),
  name: z.string(),
  spawn_mode: z.enum(SPAWN_MODES),
  region: z.string().nullable(),
  provider: z.string().describe('local_process: a flotilla serve process on this host'),
  status: z.enum(CHILD_STATUSES).describe('starting until its handshake completes (or it joins the cluster)'),
  url: z.string().nullable(),
  pid: z.number().int().nullable(),
  data_dir: z.string().nullable().describe('its folder: bootstrap.json, admin-token, platform.log, data'),
  federation_peer_id: z.string().nullable().describe('the peering with the child; null for a cluster member'),
  created_at: isoTime,
  terminated_at: isoTime.nullable(),
  last_error: z.string().nullable(),
});

export function toSpawnedChildView(c: SpawnedChild): z.infer<typeof spawnedChildView> {
  return {
    child_instance_id: c.id,
    name: c.name,
    spawn_mode: c.spawnMode,
    region: c.region,
    provider: c.provider,
    status: c.status,
    url: c.url,
    pid: c.pid,
    data_dir: c.dataDir,
    federation_peer_id: c.federationPeerId,
    created_at: c.createdAt.toISOString(),
    terminated_at: c.terminatedAt?.toISOString() ?? null,
    last_error: c.lastError,
  };
}

/** A peer as list_federation_peers shows it: with the child_instance_id when this platform spawned it. */
export const listedPeerView = federationPeerView.extend({
  child_instance_id: z.string().nullable().describe('set when this platform spawned the peer'),
});

/** Another process of this platform's cluster, shown as a peer (spawn_mode cluster_member). */
export function toMemberView(m: ListedMember): z.infer<typeof listedPeerView> {
  return {
    id: m.id,
    name: m.name,
    spawn_role: 'member',
    spawn_mode: 'cluster_member',
    status: m.status,
    remote_platform_url: m.url,
    contract_version: null,
    last_rtt_ms: null,
    audit_chain_mismatch_at: null,
    region: m.region,
    region_source: 'declared',
    declared_region: m.region,
    last_heartbeat_at: m.lastSeenAt.toISOString(),
    created_at: m.startedAt.toISOString(),
    child_instance_id: m.childInstanceId,
  };
}
