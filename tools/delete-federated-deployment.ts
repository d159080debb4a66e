// delete_federated_deployment: stops reconciling a federated deployment; uninstalls nothing.
import { defineTool } from '../src/mcp/define-tool.js';
import {
  federatedDeploymentIdInput,
  federatedDeploymentView,
  toFederatedDeploymentView,
} from './shared/federated-deployment-views.js';

export default defineTool({
  name: 'delete_federated_deployment',
  title: 'Delete federated deployment',
  description:
    'Stops reconciling a federated deployment (no more status polls, drift repair or events) but does not uninstall: the versions its shares assigned stay assigned on every peer until changed there.',
  role: 'admin',
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  input: { federated_deployment_id: federatedDeploymentIdInput },
  output: { federated_deployment: federatedDeploymentView },
  handler: async ({ services, caller }, input) => ({
    federated_deployment: toFederatedDeploymentView(
      await services.federatedDeployments.delete(caller, input.federated_deployment_id),
    ),
  }),
});
