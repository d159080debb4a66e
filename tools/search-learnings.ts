// search_learnings: learnings newest first, by text, tags and category.
import { z } from 'zod';
import { safeText } from '../src/domain/text.js';
import { defineTool } from '../src/mcp/define-tool.js';
import { clampLimit, nextCursorOutput, pagingInput, shapePage } from '../src/mcp/schemas.js';
import { learningView, toLearningView } from './shared/rollout-views.js';

export default defineTool({
  name: 'search_learnings',
  title: 'Search learnings',
  description:
    'Lists learnings newest first whose title or content contains query or that carry any of tags, optionally of one category; reads only.',
  role: 'viewer',
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  input: {
    query: safeText({ min: 1, max: 200 }).optional().describe('text to find in title or content (case-insensitive)'),
    tags: z
      .array(safeText({ min: 1, max: 100 }))
      .max(50)
      .optional()
      .describe('match learnings carrying any of these'),
    category: safeText({ min: 1, max: 100 }).optional().describe('only this category, e.g. best_practice'),
    ...pagingInput,
  },
  output: { learnings: z.array(learningView), next_cursor: nextCursorOutput },
  handler: async ({ services }, input) => {
    const page = await services.learnings.search({
      limit: clampLimit(input.limit),
      ...(input.query === undefined ? {} : { text: input.query }),
      ...(input.tags === undefined ? {} : { tags: input.tags }),
      ...(input.category === undefined ? {} : { category: input.category }),
      ...(input.cursor === undefined ? {} : { cursor: input.cursor }),
    });
    const { items, next_cursor } = shapePage(page, toLearningView);
    return { learnings: items, next_cursor };
  },
});
