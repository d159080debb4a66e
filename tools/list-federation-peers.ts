// list_federation_peers: this platform's peerings, each seen from this side, and the other live members
// of its cluster (same Postgres) as cluster_member peers.
import { z } from 'zod';
import { defineTool } from '../src/mcp/define-tool.js';
import { clampLimit, nextCursorOutput, pagingInput, shapePage } from '../src/mcp/schemas.js';
import { listedPeerView, toMemberView, toPeerView } from './shared/federation-views.js';

export default defineTool({
  name: 'list_federation_peers',
  title: 'List federation peers',
  description:
    'Lists federation peers oldest first with spawn_role (parent or child, as seen from this side), spawn_mode, status, remote URL, contract version, region and last heartbeat, plus the live members of this platform’s cluster; reads only.',
  role: 'viewer',
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  input: { ...pagingInput },
  output: {
    peers: z.array(listedPeerView),
    cluster_members: z
      .array(listedPeerView)
      .describe(
        'other platform processes on this Postgres (spawn_mode cluster_member, spawn_role member): active when seen within 3 ticks, else lost_contact; on the first page only',
      ),
    next_cursor: nextCursorOutput,
  },
  handler: async ({ services }, input) => {
    const page = await services.federation.list({
      limit: clampLimit(input.limit),
      ...(input.cursor === undefined ? {} : { cursor: input.cursor }),
    });
    const childIds = await services.spawn.childIdsByPeer(page.items.map((p) => p.id));
    const { items, next_cursor } = shapePage(page, (p) => ({
      ...toPeerView(p),
      child_instance_id: childIds.get(p.id) ?? null,
    }));
    const members = input.cursor === undefined ? await services.cluster.otherMembers() : [];
    return { peers: items, cluster_members: members.map(toMemberView), next_cursor };
  },
});
