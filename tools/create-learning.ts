// create_learning: records what operators learned from a change, for later plans to surface.
import { z } from 'zod';
import { safeText } from '../src/domain/text.js';
import { defineTool } from '../src/mcp/define-tool.js';
import { learningView, toLearningView } from './shared/rollout-views.js';

export default defineTool({
  name: 'create_learning',
  title: 'Create learning',
  description:
    'Records a learning (title, category, content, tags) that later rolling-upgrade plans of a matching module surface in related_learnings; writes learning.created.',
  role: 'operator',
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  input: {
    title: safeText({ min: 1, max: 300 }).describe(
      'one line, e.g. "nginx 1.24 → 1.26 rolling upgrade — batch_pct=20% works"',
    ),
    category: safeText({ min: 1, max: 100 }).describe('e.g. best_practice, incident, pitfall'),
    content: safeText({ min: 1, max: 20_000 }).describe('what happened and what to do next time'),
    tags: z
      .array(safeText({ min: 1, max: 100 }))
      .max(50)
      .describe('tags, stored lower-case; the module name and rolling-upgrade make plans find it'),
  },
  output: { learning: learningView },
  handler: async ({ services, caller }, input) => ({
    learning: toLearningView(await services.learnings.create(caller, input)),
  }),
});
