// get_federated_rollout: one view of a federated rollout across its peers.
import { defineTool } from '../src/mcp/define-tool.js';
import {
  federatedRolloutIdInput,
  federatedRolloutView,
  toFederatedRolloutView,
} from './shared/federated-rollout-views.js';

export default defineTool({
  name: 'get_federated_rollout',
  title: 'Get federated rollout',
  description:
    'Shows a federated rollout across peers: overall state, coordination and barrier, and per leg its state, batch, healthy and failed counts, pending approvals, last contact and what it waits for; reads only.',
  role: 'viewer',
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  input: { federated_rollout_id: federatedRolloutIdInput },
  output: { federated_rollout: federatedRolloutView },
  handler: async ({ services }, input) => ({
    federated_rollout: toFederatedRolloutView(await services.federatedRollouts.get(input.federated_rollout_id)),
  }),
});
