// revoke_federation_grant: withdraws a grant this platform issued; the last one emancipates a managed child.
import { z } from 'zod';
import { safeText } from '../src/domain/text.js';
import { defineTool } from '../src/mcp/define-tool.js';
import { federationGrantView, toGrantView } from './shared/federation-views.js';

export default defineTool({
  name: 'revoke_federation_grant',
  title: 'Revoke federation grant',
  description:
    'Revokes a grant this platform issued, with an audit entry; revoking the last grant to the parent of a managed child makes the peering autonomous_peer (emancipation) and tells the parent.',
  role: 'admin',
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  input: {
    grant_id: safeText({ min: 1, max: 200 }).describe('the grant id, as list_federation_grants shows it'),
    reason: safeText({ min: 1, max: 500 }).optional().describe('why the grant is revoked, kept in the audit log'),
  },
  output: {
    federation_grant: federationGrantView,
    emancipated: z.boolean().describe('true when this revocation ended the managed_child relationship'),
  },
  handler: async ({ services, caller }, input) => {
    const { grant, emancipated } = await services.grants.revoke(caller, {
      grantId: input.grant_id,
      ...(input.reason === undefined ? {} : { reason: input.reason }),
    });
    return { federation_grant: toGrantView(grant), emancipated };
  },
});
