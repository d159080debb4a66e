// recent_events: the event log, newest first, filtered by kind prefix.
import { z } from 'zod';
import { safeText } from '../src/domain/text.js';
import { defineTool } from '../src/mcp/define-tool.js';
import { clampLimit, isoTime, nextCursorOutput, pagingInput, shapePage } from '../src/mcp/schemas.js';

export default defineTool({
  name: 'recent_events',
  title: 'Recent events',
  description:
    'Lists events newest first whose kind starts with kind_prefix (e.g. "module.", "module.upgrade", "federation."); reads only.',
  role: 'viewer',
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  input: {
    kind_prefix: safeText({ max: 200 }).optional().describe('only kinds starting with this text; omit for all events'),
    ...pagingInput,
  },
  output: {
    events: z.array(
      z.object({
        id: z.string(),
        kind: z.string(),
        at: isoTime,
        actor: z.string(),
        payload: z.record(z.string(), z.unknown()),
      }),
    ),
    next_cursor: nextCursorOutput,
  },
  handler: async ({ services }, input) => {
    const page = await services.events.recent({
      kindPrefix: input.kind_prefix ?? '',
      limit: clampLimit(input.limit),
      ...(input.cursor === undefined ? {} : { cursor: input.cursor }),
    });
    const { items, next_cursor } = shapePage(page, (e) => ({
      id: e.id,
      kind: e.kind,
      at: e.at.toISOString(),
      actor: e.actor,
      payload: e.payload,
    }));
    return { events: items, next_cursor };
  },
});
