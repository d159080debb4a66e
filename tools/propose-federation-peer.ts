// propose_federation_peer: the parent side of an out-of-band peering; returns a single-use token.
import { z } from 'zod';
import { peerNameSchema } from '../src/domain/names.js';
import { defineTool } from '../src/mcp/define-tool.js';
import { isoTime } from '../src/mcp/schemas.js';
import { federationPeerView, toPeerView } from './shared/federation-views.js';

export default defineTool({
  name: 'propose_federation_peer',
  title: 'Propose federation peer',
  description:
    'Proposes a peering with another existing platform and returns its acceptance_token once (single use, expires in 30 minutes) for accept_federation_peer on the other side; writes an audit entry.',
  role: 'admin',
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  input: {
    name: peerNameSchema.describe('local name for the peer, e.g. child-platform-1'),
    spawn_mode: z
      .enum(['managed_child', 'autonomous_peer', 'cluster_member'])
      .describe('managed_child (this platform administers it) or autonomous_peer (equals); cluster_member is refused'),
    remote_platform_url: z
      .url({ protocol: /^https?$/ })
      .optional()
      .describe('URL of the other platform, if known; the accepting side reports its own'),
  },
  output: {
    federation_peer: federationPeerView,
    acceptance_token: z.string().describe('shown only this once; give it to the operator of the other platform'),
    token_expires_at: isoTime,
  },
  handler: async ({ services, caller }, input) => {
    const { peer, acceptanceToken } = await services.federation.propose(caller, {
      name: input.name,
      spawnMode: input.spawn_mode,
      ...(input.remote_platform_url === undefined ? {} : { remotePlatformUrl: input.remote_platform_url }),
    });
    return {
      federation_peer: toPeerView(peer),
      acceptance_token: acceptanceToken,
      token_expires_at: peer.tokenExpiresAt!.toISOString(),
    };
  },
});
