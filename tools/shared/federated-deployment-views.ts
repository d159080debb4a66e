// Views of federated deployments shared by their tools: the deployment, its shares per peer, the overall state.
import { z } from 'zod';
import { safeText } from '../../src/domain/text.js';
import {
  deploymentRolloutSchema,
  overridesSchema,
  OVERALL_STATES,
  SHARE_STATES,
  type DeploymentShare,
  type FederatedDeployment,
  type OverallState,
} from '../../src/domain/federated-deployment.js';
import { groupNameSchema } from '../../src/domain/names.js';
import { MAX_REPLICAS, placementPolicySchema, type PlacementExclusion } from '../../src/domain/placement.js';
import { isoTime } from '../../src/mcp/schemas.js';
import { federationPeerIdInput } from './federation-views.js';

export const federatedDeploymentIdInput = safeText({ min: 1, max: 100 }).describe(
  'the federated deployment, by id or name (create_federated_deployment or list_federated_deployments give it)',
);

export const shareView = z.object({
  peer_name: z.string(),
  federation_peer_id: z.string().nullable().describe('null: this platform’s own share'),
  local: z.boolean(),
  desired: z.number().int().describe('replicas this peer runs now'),
  planned: z.number().int().describe('replicas the placement gave it; differs from desired after a failover'),
  version: z.string().describe('after overrides'),
  group: z.string().describe('after overrides'),
  assigned: z.number().int().nullable().describe('instances with the version assigned there; null: not reported yet'),
  running_healthy: z.number().int().nullable().describe('of those, running its digest and healthy'),
  drifted: z.number().int().nullable().describe('of those, reporting another digest since the assignment'),
  state: z.enum(SHARE_STATES),
  last_contact_at: isoTime.nullable(),
  propagated_at: isoTime.nullable().describe('when the share last reached its platform and was applied; null: not yet'),
  last_error: z.string().nullable(),
});

const common = {
  federated_deployment_id: z.string(),
  name: z.string(),
  module_name: z.string(),
  version: z.string(),
  replicas: z.number().int(),
  group: z.string(),
  include_local: z.boolean(),
  peers: z.array(z.string()).describe('the member peers, by name'),
  failback: z.boolean().describe('a member back after a failover gets its planned share back'),
  state: z.enum(['active', 'deleted']).describe('deleted: no longer reconciled; its assignments stay'),
  overall: z.enum(OVERALL_STATES).describe('in_sync | progressing | drifted | degraded'),
  created_by: z.string(),
  created_at: isoTime,
};

export const federatedDeploymentView = z.object({
  ...common,
  placement: z.record(z.string(), z.unknown()),
  overrides: z.record(z.string(), z.unknown()),
  rollout: z
    .object({
      strategy: z.record(z.string(), z.unknown()),
      max_consecutive_failures: z.number().int(),
      health_timeout_sec: z.number().int(),
    })
    .describe('how each peer upgrades instances running another version: a rolling upgrade there'),
  shares: z.array(shareView),
});

export const federatedDeploymentSummaryView = z.object({ ...common, share_count: z.number().int() });

function base(d: FederatedDeployment, overall: OverallState) {
  return {
    federated_deployment_id: d.id,
    name: d.name,
    module_name: d.moduleName,
    version: d.version,
    replicas: d.replicas,
    group: d.groupName,
    include_local: d.includeLocal,
    peers: d.peers,
    failback: d.failback,
    state: d.state,
    overall,
    created_by: d.createdBy,
    created_at: d.createdAt.toISOString(),
  };
}

export function toShareView(s: DeploymentShare): z.infer<typeof shareView> {
  return {
    peer_name: s.peerName,
    federation_peer_id: s.federationPeerId,
    local: s.federationPeerId === null,
    desired: s.desiredReplicas,
    planned: s.plannedReplicas,
    version: s.version,
    group: s.groupName,
    assigned: s.assigned,
    running_healthy: s.runningHealthy,
    drifted: s.drifted,
    state: s.state,
    last_contact_at: s.lastContactAt?.toISOString() ?? null,
    propagated_at: s.propagatedAt?.toISOString() ?? null,
    last_error: s.lastError,
  };
}

/** The fields create and update take beside the deployment's identity. */
export const deploymentSpecInput = {
  version: safeText({ min: 1, max: 200 }).describe('its version string (or version id)'),
  replicas: z.number().int().min(0).max(MAX_REPLICAS).describe('instances to run the version on, in all'),
  group: groupNameSchema.describe('the group whose instances run it on each peer'),
  peers: z.array(federationPeerIdInput).max(500).describe('the peers to spread it over, by id or name'),
  include_local: z.boolean().describe('this platform takes a share too'),
  placement: placementPolicySchema.describe(
    'how replicas are spread: strategy weighted | geo_affinity | resource_based | cost_optimized, with weights, min, max, regions',
  ),
  overrides: overridesSchema.describe('per peer name: { version?, group? } that peer runs instead of the deployment’s'),
  failback: z
    .boolean()
    .describe('a member back after a failover gets its planned share back (default true); false: it stays moved'),
  rollout: deploymentRolloutSchema.describe(
    'how a peer moves instances running another version: a rolling upgrade there under its own policy; strategy (default batch 25%), max_consecutive_failures (2), health_timeout_sec (300)',
  ),
};

export const excludedView = z
  .array(z.object({ peer_name: z.string(), reasons: z.array(z.string()) }))
  .describe('named peers that get nothing, and why (residency, boundary, not active)');

export function toExcludedView(excluded: readonly PlacementExclusion[]): z.infer<typeof excludedView> {
  return excluded.map((e) => ({ peer_name: e.peer.name, reasons: e.reasons }));
}

export function toFederatedDeploymentView(v: {
  deployment: FederatedDeployment;
  shares: DeploymentShare[];
  overall: OverallState;
}): z.infer<typeof federatedDeploymentView> {
  return {
    ...base(v.deployment, v.overall),
    placement: v.deployment.placement as Record<string, unknown>,
    overrides: v.deployment.overrides,
    rollout: {
      strategy: v.deployment.rollout.strategy as Record<string, unknown>,
      max_consecutive_failures: v.deployment.rollout.max_consecutive_failures,
      health_timeout_sec: v.deployment.rollout.health_timeout_sec,
    },
    shares: v.shares.map(toShareView),
  };
}

export function toFederatedDeploymentSummaryView(
  d: FederatedDeployment & { overall: OverallState; shareCount: number },
): z.infer<typeof federatedDeploymentSummaryView> {
  return { ...base(d, d.overall), share_count: d.shareCount };
}
