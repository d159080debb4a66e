// get_data_residency: a peer's residency policy, the one it declared for us, and whether it complies now.
import { defineTool } from '../src/mcp/define-tool.js';
import { federationPeerIdInput, residencyOutput, toResidencyOutput } from './shared/federation-views.js';

export default defineTool({
  name: 'get_data_residency',
  title: 'Get data residency',
  description:
    "Shows a federation peer's data residency policy (what this platform may send it), the policy the peer declared for what it sends here, the peer's region, whether it complies now, and unused one-time overrides; reads only.",
  role: 'viewer',
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  input: { federation_peer_id: federationPeerIdInput },
  output: residencyOutput,
  handler: async ({ services }, input) => toResidencyOutput(await services.residency.get(input.federation_peer_id)),
});
