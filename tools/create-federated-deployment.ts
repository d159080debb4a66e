// create_federated_deployment: places N replicas of a version over peers and sends each its share.
import { z } from 'zod';
import { overridesSchema } from '../src/domain/federated-deployment.js';
import { groupNameSchema, moduleNameSchema } from '../src/domain/names.js';
import { MAX_REPLICAS, placementPolicySchema } from '../src/domain/placement.js';
import { defineTool } from '../src/mcp/define-tool.js';
import { federationPeerIdInput } from './shared/federation-views.js';
import { federatedDeploymentView, toFederatedDeploymentView } from './shared/federated-deployment-views.js';

export default defineTool({
  name: 'create_federated_deployment',
  title: 'Create federated deployment',
  description:
    'Places replicas of a module version over peers with the placement engine (refused with each peer’s reason when infeasible), records the deployment and sends each peer its share through the outbox, to be assigned there as you and kept in sync each tick.',
  role: 'admin',
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  input: {
    name: z.string().min(1).max(200).describe('a unique name for the deployment'),
    module_name: moduleNameSchema.describe('the module to deploy'),
    version: z.string().min(1).max(200).describe('its version string (or version id)'),
    replicas: z.number().int().min(0).max(MAX_REPLICAS).describe('instances to run the version on, in all'),
    group: groupNameSchema.describe('the group whose instances run it on each peer'),
    peers: z.array(federationPeerIdInput).max(500).describe('the peers to spread it over, by id or name'),
    include_local: z.boolean().default(false).describe('this platform takes a share too'),
    placement: placementPolicySchema.describe(
      'how replicas are spread: strategy weighted | geo_affinity | resource_based | cost_optimized, with weights, min, max, regions',
    ),
    overrides: overridesSchema
      .default({})
      .describe('per peer name: { version?, group? } that peer runs instead of the deployment’s'),
  },
  output: {
    federated_deployment: federatedDeploymentView,
    excluded: z
      .array(z.object({ peer_name: z.string(), reasons: z.array(z.string()) }))
      .describe('named peers that get nothing, and why (residency, boundary, not active)'),
  },
  handler: async ({ services, caller }, input) => {
    const created = await services.federatedDeployments.create(caller, {
      name: input.name,
      moduleName: input.module_name,
      version: input.version,
      replicas: input.replicas,
      group: input.group,
      peers: input.peers,
      includeLocal: input.include_local,
      placement: input.placement,
      overrides: input.overrides,
    });
    return {
      federated_deployment: toFederatedDeploymentView(created),
      excluded: created.excluded.map((e) => ({ peer_name: e.peer.name, reasons: e.reasons })),
    };
  },
});
