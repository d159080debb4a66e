// list_refused_peer_requests: signed peer requests refused before they were authenticated (unknown key, bad
// signature, time or digest, replay, misdirected), counted per peer, reason and hour outside the audit log.
import { z } from 'zod';
import { defineTool } from '../src/mcp/define-tool.js';
import type { RefusalBucket } from '../src/services/federation-service.js';
import { clampLimit, isoTime, nextCursorOutput, pagingInput, shapePage } from '../src/mcp/schemas.js';
import { federationPeerIdInput } from './shared/federation-views.js';

const bucketView = z.object({
  federation_peer_id: z.string().nullable().describe('the peer whose key the request named; null: no known peer'),
  reason: z.string().describe('why: unknown_key, bad_signature, stale_timestamp, replayed_nonce, misdirected, …'),
  hour: isoTime.describe('start of the hour these refusals fell in'),
  count: z.number().int(),
  first_at: isoTime,
  last_at: isoTime,
  last_request: z.string().describe('what the last refused request called, as the request said'),
  last_message: z.string().describe('why the last one was refused; text from an unauthenticated request'),
});

function toBucketView(b: RefusalBucket): z.infer<typeof bucketView> {
  return {
    federation_peer_id: b.federationPeerId,
    reason: b.reason,
    hour: b.hour.toISOString(),
    count: b.count,
    first_at: b.firstAt.toISOString(),
    last_at: b.lastAt.toISOString(),
    last_request: b.lastRequest,
    last_message: b.lastMessage,
  };
}

export default defineTool({
  name: 'list_refused_peer_requests',
  title: 'List refused peer requests',
  description:
    'Lists signed peer requests refused before they were authenticated, counted per peer, reason and hour, newest first; kept apart from the audit log (which only authenticated peers add to) and bounded to a fixed number of rows; reads only.',
  role: 'viewer',
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  input: {
    federation_peer_id: federationPeerIdInput.optional(),
    ...pagingInput,
  },
  output: {
    refusals: z.array(bucketView),
    next_cursor: nextCursorOutput,
    total_refused: z.number().int().describe('refusals counted in the whole record'),
    rows: z.number().int().describe('buckets in the whole record'),
    max_rows: z.number().int().describe('buckets kept; past it the oldest are dropped'),
  },
  handler: async ({ services }, input) => {
    const record = await services.federation.refusals({
      limit: clampLimit(input.limit),
      ...(input.federation_peer_id === undefined ? {} : { ref: input.federation_peer_id }),
      ...(input.cursor === undefined ? {} : { cursor: input.cursor }),
    });
    const { items, next_cursor } = shapePage(record.page, toBucketView);
    return {
      refusals: items,
      next_cursor,
      total_refused: record.total,
      rows: record.rows,
      max_rows: record.maxRows,
    };
  },
});
