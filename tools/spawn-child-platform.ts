// spawn_child_platform: starts a child platform through the spawn provider; for managed_child and
// autonomous_peer it proposes the peering (as propose_federation_peer) and the child redeems the token
// on first boot; a cluster_member is another process on this platform's Postgres.
import { z } from 'zod';
import { safeText } from '../src/domain/text.js';
import { peerNameSchema, regionSchema } from '../src/domain/names.js';
import { InvalidInputError } from '../src/errors.js';
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
    child_name: peerNameSchema
      .optional()
      .describe('name of the child platform and of its peer here, e.g. child-platform-1 (or give child_hostname)'),
    child_hostname: peerNameSchema.optional().describe('the same as child_name (the tutorial’s REST body calls it so)'),
    region: regionSchema
      .optional()
      .describe("the child's region; default this platform's (or give child_provider_region_id)"),
    child_provider_region_id: regionSchema.optional().describe('the same as region (the tutorial’s REST body)'),
    child_template_id: safeText({ max: 200 })
      .optional()
      .describe('accepted for the tutorial’s REST body; the local process provider runs every child from this build'),
    child_provider_instance_type_id: safeText({ max: 200 })
      .optional()
      .describe('accepted for the tutorial’s REST body; the local process provider has one instance type'),
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
    const childName = oneOf(input, 'child_name', 'child_hostname');
    if (childName === undefined) throw new InvalidInputError('child_name is required');
    const region = oneOf(input, 'region', 'child_provider_region_id');
    const { child, peer, acceptanceToken } = await services.spawn.spawn(caller, {
      spawnMode: input.spawn_mode,
      childName,
      ...(region === undefined ? {} : { region }),
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

/** The value of `a` or of its alias `b`; both given is an input error. */
function oneOf<K extends string>(input: Partial<Record<K, string>>, a: K, b: K): string | undefined {
  if (input[a] !== undefined && input[b] !== undefined) throw new InvalidInputError(`give ${a} or ${b}, not both`);
  return input[a] ?? input[b];
}
