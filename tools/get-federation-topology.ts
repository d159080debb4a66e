// get_federation_topology: every peering as this platform sees it (the tutorial's routing summary).
import { z } from 'zod';
import { defineTool } from '../src/mcp/define-tool.js';
import { topologyPeerView, toTopologyPeerView } from './shared/federation-views.js';

export default defineTool({
  name: 'get_federation_topology',
  title: 'Get federation topology',
  description:
    'Lists every federation peering of this platform with its URL, status, region, last heartbeat and round trip, the capabilities its ingress boundary lets through, and its data residency policy; reads only.',
  role: 'viewer',
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  input: {
    include_revoked: z.boolean().optional().describe('also list revoked peerings (default false)'),
  },
  output: {
    platform: z.object({ id: z.string(), name: z.string(), region: z.string().nullable() }),
    peers: z.array(topologyPeerView),
  },
  handler: async ({ services, caller }, input) => {
    const info = services.platform.info(caller);
    const entries = await services.peerReads.topology({ includeRevoked: input.include_revoked ?? false });
    return {
      platform: { id: info.id, name: info.name, region: info.region },
      peers: entries.map(toTopologyPeerView),
    };
  },
});
