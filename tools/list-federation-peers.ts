// list_federation_peers: this platform's peerings, each seen from this side.
import { z } from 'zod';
import { defineTool } from '../src/mcp/define-tool.js';
import { clampLimit, nextCursorOutput, pagingInput, shapePage } from '../src/mcp/schemas.js';
import { federationPeerView, toPeerView } from './shared/federation-views.js';

export default defineTool({
  name: 'list_federation_peers',
  title: 'List federation peers',
  description:
    'Lists federation peers oldest first with spawn_role (parent or child, as seen from this side), spawn_mode, status, remote URL, contract version, region and last heartbeat; reads only.',
  role: 'viewer',
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  input: { ...pagingInput },
  output: { peers: z.array(federationPeerView), next_cursor: nextCursorOutput },
  handler: async ({ services }, input) => {
    const page = await services.federation.list({
      limit: clampLimit(input.limit),
      ...(input.cursor === undefined ? {} : { cursor: input.cursor }),
    });
    const { items, next_cursor } = shapePage(page, toPeerView);
    return { peers: items, next_cursor };
  },
});
