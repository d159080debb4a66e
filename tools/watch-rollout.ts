// watch_rollout: waits (at most 55 s) until a rollout reaches a state, reporting progress as batches move.
import { z } from 'zod';
import { defineTool } from '../src/mcp/define-tool.js';
import { MAX_WATCH_SEC } from '../src/services/rollouts-service.js';
import { rolloutIdInput, rolloutStateInput, rolloutView, toRolloutView } from './shared/rollout-views.js';

export default defineTool({
  name: 'watch_rollout',
  title: 'Watch rollout',
  description:
    'Waits until a rollout reaches one of the until states (default: needs a human or finished) or timeout_sec passes, sending progress notifications as batches start and complete; reads only.',
  role: 'viewer',
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  input: {
    rollout_id: rolloutIdInput,
    until: z
      .union([rolloutStateInput, z.array(rolloutStateInput).min(1)])
      .optional()
      .describe(
        'state or states to wait for; default pending_approval, paused, circuit_open, completed, aborted, rolled_back, failed',
      ),
    timeout_sec: z
      .number()
      .int()
      .min(0)
      .max(MAX_WATCH_SEC)
      .optional()
      .describe(`seconds to wait at most, default 30, at most ${MAX_WATCH_SEC}; call again to keep watching`),
  },
  output: {
    reached: z.boolean().describe('true when the rollout is in one of the until states; false on timeout'),
    waited_sec: z.number().int(),
    rollout: rolloutView,
  },
  handler: async ({ services, signal, progress }, input) => {
    const until = input.until === undefined ? undefined : Array.isArray(input.until) ? input.until : [input.until];
    const r = await services.rollouts.watch(input.rollout_id, {
      timeoutSec: input.timeout_sec ?? 30,
      ...(until === undefined ? {} : { until }),
      ...(signal === undefined ? {} : { signal }),
      ...(progress === undefined ? {} : { onProgress: progress }),
    });
    return { reached: r.reached, waited_sec: r.waitedSec, rollout: toRolloutView(r) };
  },
});
