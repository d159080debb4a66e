// verify_audit_log: recomputes a federation peer's audit hash chain.
import { z } from 'zod';
import { defineTool } from '../src/mcp/define-tool.js';
import { federationPeerIdInput } from './shared/federation-views.js';

export default defineTool({
  name: 'verify_audit_log',
  title: 'Verify peer audit log',
  description:
    'Recomputes the audit hash chain of a federation peer from its first entry and reports whether it is intact and the first bad sequence; reads only.',
  role: 'viewer',
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  input: { federation_peer_id: federationPeerIdInput },
  output: {
    federation_peer_id: z.string(),
    valid: z.boolean(),
    first_bad_sequence: z.number().int().nullable().describe('first sequence that fails, or null when valid'),
    checked: z.number().int().describe('entries read'),
  },
  handler: async ({ services }, input) => {
    const { peer, verification } = await services.federation.verifyAuditLog(input.federation_peer_id);
    return {
      federation_peer_id: peer.id,
      valid: verification.valid,
      first_bad_sequence: verification.firstBadSequence,
      checked: verification.checked,
    };
  },
});
