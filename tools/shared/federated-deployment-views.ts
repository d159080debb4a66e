// Views of federated deployments shared by their tools: the deployment, its shares per peer, the overall state.
import { z } from 'zod';
import {
  OVERALL_STATES,
  SHARE_STATES,
  type DeploymentShare,
  type FederatedDeployment,
  type OverallState,
} from '../../src/domain/federated-deployment.js';
import { isoTime } from '../../src/mcp/schemas.js';

export const federatedDeploymentIdInput = z
  .string()
  .min(1)
  .max(100)
  .describe('the federated deployment id (create_federated_deployment or list_federated_deployments give it)');

export const shareView = z.object({
  peer_name: z.string(),
  federation_peer_id: z.string().nullable().describe('null: this platform’s own share'),
  local: z.boolean(),
  desired: z.number().int().describe('replicas this peer runs'),
  version: z.string().describe('after overrides'),
  group: z.string().describe('after overrides'),
  assigned: z.number().int().nullable().describe('instances with the version assigned there; null: not reported yet'),
  running_healthy: z.number().int().nullable().describe('of those, running its digest and healthy'),
  drifted: z.number().int().nullable().describe('of those, reporting another digest since the assignment'),
  state: z.enum(SHARE_STATES),
  last_contact_at: isoTime.nullable(),
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
  state: z.enum(['active', 'deleted']).describe('deleted: no longer reconciled; its assignments stay'),
  overall: z.enum(OVERALL_STATES).describe('in_sync | progressing | drifted | degraded'),
  created_by: z.string(),
  created_at: isoTime,
};

export const federatedDeploymentView = z.object({
  ...common,
  placement: z.record(z.string(), z.unknown()),
  overrides: z.record(z.string(), z.unknown()),
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
    version: s.version,
    group: s.groupName,
    assigned: s.assigned,
    running_healthy: s.runningHealthy,
    drifted: s.drifted,
    state: s.state,
    last_contact_at: s.lastContactAt?.toISOString() ?? null,
    last_error: s.lastError,
  };
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
    shares: v.shares.map(toShareView),
  };
}

export function toFederatedDeploymentSummaryView(
  d: FederatedDeployment & { overall: OverallState; shareCount: number },
): z.infer<typeof federatedDeploymentSummaryView> {
  return { ...base(d, d.overall), share_count: d.shareCount };
}
