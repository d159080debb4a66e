// override_data_residency: a one-time, audited exception to a peer's data residency policy.
import { safeText } from '../src/domain/text.js';
import { RESOURCE_KINDS, resourceKindsSchema } from '../src/domain/residency.js';
import { defineTool } from '../src/mcp/define-tool.js';
import { federationPeerIdInput, residencyOverrideView, toResidencyOverrideView } from './shared/federation-views.js';

export default defineTool({
  name: 'override_data_residency',
  title: 'Override data residency once',
  description:
    "Creates a one-time exception to a federation peer's data residency policy that lets the next single transfer of the named kinds through although the peer is outside the region, keeping the reason on the peer's audit log (data_residency.override_created, then data_residency.override_used).",
  role: 'admin',
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  input: {
    federation_peer_id: federationPeerIdInput,
    resource_kinds: resourceKindsSchema.describe(
      `the pinned kinds the one transfer may carry out of the region (${RESOURCE_KINDS.join(', ')})`,
    ),
    reason: safeText({ min: 1, max: 1000 }).describe(
      'why this one transfer may leave the region; kept in the audit log',
    ),
  },
  output: { override: residencyOverrideView },
  handler: async ({ services, caller }, input) => {
    const { override } = await services.residency.override(caller, {
      ref: input.federation_peer_id,
      resourceKinds: input.resource_kinds,
      reason: input.reason,
    });
    return { override: toResidencyOverrideView(override) };
  },
});
