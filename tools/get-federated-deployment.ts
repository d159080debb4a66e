// get_federated_deployment: one view of a federated deployment across its peers.
import { defineTool } from '../src/mcp/define-tool.js';
import {
  federatedDeploymentIdInput,
  federatedDeploymentView,
  toFederatedDeploymentView,
} from './shared/federated-deployment-views.js';

export default defineTool({
  name: 'get_federated_deployment',
  title: 'Get federated deployment',
  description:
    'Shows a federated deployment across peers: its overall state (in_sync, progressing, drifted, degraded) and per peer the desired replicas, assigned, running healthy, drifted, last contact and last error; reads only.',
  role: 'viewer',
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  input: { federated_deployment_id: federatedDeploymentIdInput },
  output: { federated_deployment: federatedDeploymentView },
  handler: async ({ services }, input) => ({
    federated_deployment: toFederatedDeploymentView(
      await services.federatedDeployments.get(input.federated_deployment_id),
    ),
  }),
});
