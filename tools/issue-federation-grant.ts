// issue_federation_grant: gives the parent of this managed child rights on this platform, for a while.
import { z } from 'zod';
import { safeText } from '../src/domain/text.js';
import { GRANT_SCOPES } from '../src/domain/capabilities.js';
import { defineTool } from '../src/mcp/define-tool.js';
import { federationGrantView, federationPeerIdInput, toGrantView } from './shared/federation-views.js';

export default defineTool({
  name: 'issue_federation_grant',
  title: 'Issue federation grant',
  description:
    'Issues a grant of scopes (read, write, admin) on this platform to the parent that administers it as a managed child, expiring after ttl_days; writes an audit entry and a federation.grant.issued event.',
  role: 'admin',
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  input: {
    federation_peer_id: federationPeerIdInput,
    scopes: z
      .array(z.enum(GRANT_SCOPES))
      .min(1)
      .max(GRANT_SCOPES.length)
      .describe('read (versions, inventory, audit), write (read plus rollouts, deployments, migrations), admin (all)'),
    ttl_days: z.number().int().min(1).max(3650).optional().describe('days until the grant expires, default 365'),
    reason: safeText({ min: 1, max: 500 })
      .optional()
      .describe('why the grant is issued, kept with it and in the audit log'),
  },
  output: { federation_grant: federationGrantView },
  handler: async ({ services, caller }, input) => {
    const grant = await services.grants.issue(caller, {
      peerRef: input.federation_peer_id,
      scopes: input.scopes,
      ...(input.ttl_days === undefined ? {} : { ttlDays: input.ttl_days }),
      ...(input.reason === undefined ? {} : { reason: input.reason }),
    });
    return { federation_grant: toGrantView(grant) };
  },
});
