// create_federated_deployment: places N replicas of a version over peers and sends each its share.
import { safeText } from '../src/domain/text.js';
import { moduleNameSchema } from '../src/domain/names.js';
import { defineTool } from '../src/mcp/define-tool.js';
import {
  deploymentSpecInput,
  excludedView,
  federatedDeploymentView,
  toExcludedView,
  toFederatedDeploymentView,
} from './shared/federated-deployment-views.js';

export default defineTool({
  name: 'create_federated_deployment',
  title: 'Create federated deployment',
  description:
    'Places replicas of a module version over peers (refused with each peer’s reason when infeasible) and sends each peer its share through the outbox, assigned there as you, upgraded by a rolling upgrade under that peer’s policy and kept in sync each tick with failover.',
  role: 'admin',
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  input: {
    name: safeText({ min: 1, max: 200 }).describe('a unique name for the deployment'),
    module_name: moduleNameSchema.describe('the module to deploy'),
    ...deploymentSpecInput,
    include_local: deploymentSpecInput.include_local.default(false),
    overrides: deploymentSpecInput.overrides.default({}),
    failback: deploymentSpecInput.failback.default(true),
    rollout: deploymentSpecInput.rollout.optional(),
  },
  output: { federated_deployment: federatedDeploymentView, excluded: excludedView },
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
      failback: input.failback,
      ...(input.rollout === undefined ? {} : { rollout: input.rollout }),
    });
    return { federated_deployment: toFederatedDeploymentView(created), excluded: toExcludedView(created.excluded) };
  },
});
