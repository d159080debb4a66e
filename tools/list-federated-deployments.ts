// list_federated_deployments: federated deployments created on this platform, newest first.
import { z } from 'zod';
import { defineTool } from '../src/mcp/define-tool.js';
import { clampLimit, nextCursorOutput, pagingInput, shapePage } from '../src/mcp/schemas.js';
import {
  federatedDeploymentSummaryView,
  toFederatedDeploymentSummaryView,
} from './shared/federated-deployment-views.js';

export default defineTool({
  name: 'list_federated_deployments',
  title: 'List federated deployments',
  description:
    'Lists the federated deployments created on this platform newest first, with their module, version, replicas, state and overall sync state; reads only.',
  role: 'viewer',
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  input: { ...pagingInput },
  output: { federated_deployments: z.array(federatedDeploymentSummaryView), next_cursor: nextCursorOutput },
  handler: async ({ services }, input) => {
    const page = await services.federatedDeployments.list({
      limit: clampLimit(input.limit),
      ...(input.cursor === undefined ? {} : { cursor: input.cursor }),
    });
    const { items, next_cursor } = shapePage(page, toFederatedDeploymentSummaryView);
    return { federated_deployments: items, next_cursor };
  },
});
