// get_peer_inventory: a federation peer's fleet summarized, read over a signed call as the caller.
import { z } from 'zod';
import { inventorySummarySchema } from '../src/domain/peer-reads.js';
import { groupNameSchema } from '../src/domain/names.js';
import { defineTool } from '../src/mcp/define-tool.js';
import { federationPeerIdInput } from './shared/federation-views.js';

export default defineTool({
  name: 'get_peer_inventory',
  title: 'Get peer inventory',
  description:
    "Reads a federation peer's fleet over a signed call on the caller's behalf (capability inventory.read, needing an operator of the same name there): instance counts by group, status and region, and up to 500 instances with their running module digests.",
  role: 'viewer',
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  input: {
    federation_peer_id: federationPeerIdInput,
    group: groupNameSchema.optional().describe("only this group of the peer's fleet"),
  },
  output: {
    federation_peer_id: z.string(),
    federation_peer_name: z.string(),
    ...inventorySummarySchema.shape,
  },
  handler: async ({ services, caller }, input) => {
    const { peer, summary } = await services.peerReads.inventory(caller, input.federation_peer_id, input.group);
    return { federation_peer_id: peer.id, federation_peer_name: peer.name, ...summary };
  },
});
