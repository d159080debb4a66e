// update_federated_deployment: changes what a federated deployment declares and places it again.
import { z } from 'zod';
import { defineTool } from '../src/mcp/define-tool.js';
import type { UpdateDeploymentInput } from '../src/services/federated-deployments-service.js';
import {
  deploymentSpecInput,
  excludedView,
  federatedDeploymentIdInput,
  federatedDeploymentView,
  toExcludedView,
  toFederatedDeploymentView,
} from './shared/federated-deployment-views.js';

export default defineTool({
  name: 'update_federated_deployment',
  title: 'Update federated deployment',
  description:
    'Changes a federated deployment (fields left out stay) and places it again, sending only the shares that change (a smaller share releases instances, an unchanged update writes nothing and answers changed: false).',
  role: 'admin',
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  input: {
    federated_deployment_id: federatedDeploymentIdInput,
    version: deploymentSpecInput.version.optional(),
    replicas: deploymentSpecInput.replicas.optional(),
    group: deploymentSpecInput.group.optional(),
    peers: deploymentSpecInput.peers.optional(),
    include_local: deploymentSpecInput.include_local.optional(),
    placement: deploymentSpecInput.placement.optional(),
    overrides: deploymentSpecInput.overrides.optional(),
    failback: deploymentSpecInput.failback.optional(),
    rollout: deploymentSpecInput.rollout.optional(),
  },
  output: {
    federated_deployment: federatedDeploymentView,
    excluded: excludedView,
    changed: z.boolean().describe('false: the deployment already declared this; nothing was written'),
  },
  handler: async ({ services, caller }, input) => {
    const { federated_deployment_id: ref, include_local: includeLocal, ...rest } = input;
    const patch: UpdateDeploymentInput = {};
    for (const key of [
      'version',
      'replicas',
      'group',
      'peers',
      'placement',
      'overrides',
      'failback',
      'rollout',
    ] as const) {
      if (rest[key] !== undefined) Object.assign(patch, { [key]: rest[key] });
    }
    if (includeLocal !== undefined) patch.includeLocal = includeLocal;
    const updated = await services.federatedDeployments.update(caller, ref, patch);
    return {
      federated_deployment: toFederatedDeploymentView(updated),
      excluded: toExcludedView(updated.excluded),
      changed: updated.changed,
    };
  },
});
