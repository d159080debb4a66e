// get_audit_log: one federation peer's write-once audit log, oldest first.
import { z } from 'zod';
import { defineTool } from '../src/mcp/define-tool.js';
import { clampLimit, nextCursorOutput, pagingInput, shapePage } from '../src/mcp/schemas.js';
import { auditEntryView, federationPeerIdInput, toAuditEntryView } from './shared/federation-views.js';

export default defineTool({
  name: 'get_audit_log',
  title: 'Get peer audit log',
  description:
    'Pages the append-only audit log of a federation peer oldest first: gap-free sequence, action, actor, time, payload and the hash chain; reads only.',
  role: 'viewer',
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  input: { federation_peer_id: federationPeerIdInput, ...pagingInput },
  output: { federation_peer_id: z.string(), entries: z.array(auditEntryView), next_cursor: nextCursorOutput },
  handler: async ({ services }, input) => {
    const { peer, page } = await services.federation.auditLog(input.federation_peer_id, {
      limit: clampLimit(input.limit),
      ...(input.cursor === undefined ? {} : { cursor: input.cursor }),
    });
    const { items, next_cursor } = shapePage(page, toAuditEntryView);
    return { federation_peer_id: peer.id, entries: items, next_cursor };
  },
});
