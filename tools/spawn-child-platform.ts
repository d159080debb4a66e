// spawn_child_platform: starts a child platform through the spawn provider; for managed_child and
// autonomous_peer it proposes the peering (as propose_federation_peer) and the child redeems the token
// on first boot; a cluster_member is another process on this platform's Postgres.
import { z } from 'zod';
import { peerNameSchema, regionSchema } from '../src/domain/names.js';
import { defineTool } from '../src/mcp/define-tool.js';
import { isoTime } from '../src/mcp/schemas.js';
import { federationPeerView, spawnedChildView, toPeerView, toSpawnedChildView } from './shared/federation-views.js';

export default defineTool({
  name: 'spawn_child_platform',
  title: 'Spawn child platform',
  description:
    'Starts a new child platform (a local flotilla serve process with its own folder and bootstrap file) that federates with this one on first boot, or joins its cluster as a cluster_member, and returns child_instance_id and, for a peering, the acceptance_token once.',
  role: 'admin',
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  input: {
    spawn_mode: z
      .enum(['managed_child', 'autonomous_peer', 'cluster_member'])
      .describe(
        'managed_child (this platform administers it), autonomous_peer (equals) or cluster_member (a replica on this Postgres)',
      ),
    child_name: peerNameSchema.describe('name of the child platform and of its peer here, e.g. child-platform-1'),
    region: regionSchema.optional().describe("the child's region; default this platform's"),
  },
  output: {
    federation_peer: federationPeerView.nullable().describe('the proposed peering; null for a cluster_member'),
    child_instance_id: z.string().describe('give it to terminate_instance to stop the child'),
    acceptance_token: z
      .string()
      .nullable()
      .describe('shown only this once; the child already has it in its bootstrap file; null for a cluster_member'),
    token_expires_at: isoTime.nullable(),
    child: spawnedChildView,
  },
  handler: async ({ services, caller }, input) => {
    const { child, peer, acceptanceToken } = await services.spawn.spawn(caller, {
      spawnMode: input.spawn_mode,
      childName: input.child_name,
      ...(input.region === undefined ? {} : { region: input.region }),
    });
    return {
      federation_peer: peer === null ? null : toPeerView(peer),
      child_instance_id: child.id,
      acceptance_token: acceptanceToken,
      token_expires_at: peer?.tokenExpiresAt?.toISOString() ?? null,
      child: toSpawnedChildView(child),
    };
  },
});
