// set_federation_peer_region: an admin states the region a peer runs in, so data residency decides on it
// rather than on the region the peer declared at acceptance.
import { z } from 'zod';
import { defineTool } from '../src/mcp/define-tool.js';
import { federationPeerIdInput, residencyOutput, toResidencyOutput } from './shared/federation-views.js';

export default defineTool({
  name: 'set_federation_peer_region',
  title: 'Pin a federation peer region',
  description:
    "Pins the region data residency decisions use for a federation peer instead of the one it declared at acceptance (null unpins), audited on the peer's log, and answers the peer's residency as get_data_residency does.",
  role: 'admin',
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  input: {
    federation_peer_id: federationPeerIdInput,
    region: z
      .string()
      .max(63)
      .nullable()
      .describe('the region the peer really runs in, e.g. eu-west-1; null to use its declared region'),
  },
  output: {
    ...residencyOutput,
    previous_pin: z.string().nullable().describe('the region pinned before this call; null when none was'),
  },
  handler: async ({ services, caller }, input) => {
    const { state, previous } = await services.residency.pinRegion(caller, input.federation_peer_id, input.region);
    return { ...toResidencyOutput(state), previous_pin: previous };
  },
});
