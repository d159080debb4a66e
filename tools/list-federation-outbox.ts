// list_federation_outbox: signed calls this platform queued for its peers, with their delivery state.
import { z } from 'zod';
import { defineTool } from '../src/mcp/define-tool.js';
import { clampLimit, isoTime, nextCursorOutput, pagingInput, shapePage } from '../src/mcp/schemas.js';
import type { OutboxEntry } from '../src/domain/peer-calls.js';
import { federationPeerIdInput } from './shared/federation-views.js';

const outboxEntryView = z.object({
  id: z.string(),
  federation_peer_id: z.string(),
  operation: z.string().describe('the peer operation, e.g. grants.changed'),
  idempotency_key: z.string().describe('the key the peer applies the call once by, however often it is delivered'),
  on_behalf_of: z.string().nullable(),
  args: z.record(z.string(), z.unknown()),
  status: z.enum(['pending', 'delivered', 'failed']),
  attempts: z.number().int(),
  next_attempt_at: isoTime.nullable().describe('when a pending call is tried next'),
  last_error: z.string().nullable(),
  response_status: z.number().int().nullable(),
  created_by: z.string(),
  created_at: isoTime,
  finished_at: isoTime.nullable(),
});

function toOutboxView(e: OutboxEntry): z.infer<typeof outboxEntryView> {
  return {
    id: e.id,
    federation_peer_id: e.federationPeerId,
    operation: e.operation,
    idempotency_key: e.idempotencyKey,
    on_behalf_of: e.onBehalfOf,
    args: e.args,
    status: e.status,
    attempts: e.attempts,
    next_attempt_at: e.status === 'pending' ? e.nextAttemptAt.toISOString() : null,
    last_error: e.lastError,
    response_status: e.responseStatus,
    created_by: e.createdBy,
    created_at: e.createdAt.toISOString(),
    finished_at: e.finishedAt?.toISOString() ?? null,
  };
}

export default defineTool({
  name: 'list_federation_outbox',
  title: 'List federation outbox',
  description:
    'Lists signed calls queued for federation peers newest first (operation, idempotency key, pending/delivered/failed, attempts, next attempt, last error; pending calls are retried with backoff); reads only.',
  role: 'viewer',
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  input: {
    federation_peer_id: federationPeerIdInput.optional(),
    status: z.enum(['pending', 'delivered', 'failed']).optional().describe('only calls in this state'),
    ...pagingInput,
  },
  output: { calls: z.array(outboxEntryView), next_cursor: nextCursorOutput },
  handler: async ({ services }, input) => {
    const peer =
      input.federation_peer_id === undefined ? undefined : await services.federation.resolve(input.federation_peer_id);
    const page = await services.federation.calls.listOutbox({
      limit: clampLimit(input.limit),
      ...(peer === undefined ? {} : { peer }),
      ...(input.status === undefined ? {} : { status: input.status }),
      ...(input.cursor === undefined ? {} : { cursor: input.cursor }),
    });
    const { items, next_cursor } = shapePage(page, toOutboxView);
    return { calls: items, next_cursor };
  },
});
