// get_peer_module_versions: a federation peer's modules and versions, read over a signed call as the caller.
import { z } from 'zod';
import { moduleNameSchema } from '../src/domain/names.js';
import { moduleVersionsAnswerSchema } from '../src/domain/peer-reads.js';
import { defineTool } from '../src/mcp/define-tool.js';
import { federationPeerIdInput } from './shared/federation-views.js';

export default defineTool({
  name: 'get_peer_module_versions',
  title: 'Get peer module versions',
  description:
    "Reads a federation peer's modules with their versions, lifecycle states and digests over a signed call on the caller's behalf (capability versions.read, needing an operator of the same name there).",
  role: 'viewer',
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  input: {
    federation_peer_id: federationPeerIdInput,
    module_name: moduleNameSchema.optional().describe('only this module'),
  },
  output: {
    federation_peer_id: z.string(),
    federation_peer_name: z.string(),
    ...moduleVersionsAnswerSchema.shape,
  },
  handler: async ({ services, caller }, input) => {
    const { peer, answer } = await services.peerReads.moduleVersions(
      caller,
      input.federation_peer_id,
      input.module_name,
    );
    return { federation_peer_id: peer.id, federation_peer_name: peer.name, ...answer };
  },
});
