// list_operators: the operators of this platform and their roles.
import { z } from 'zod';
import { defineTool } from '../src/mcp/define-tool.js';
import { clampLimit, nextCursorOutput, pagingInput, shapePage } from '../src/mcp/schemas.js';
import { operatorView, toOperatorView } from './shared/views.js';

export default defineTool({
  name: 'list_operators',
  title: 'List operators',
  description: 'Lists operators by name with their roles (never tokens); reads only.',
  role: 'admin',
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  input: {
    include_revoked: z.boolean().optional().describe('also list revoked operators (default false)'),
    ...pagingInput,
  },
  output: { operators: z.array(operatorView), next_cursor: nextCursorOutput },
  handler: async ({ services }, input) => {
    const page = await services.operators.list({
      limit: clampLimit(input.limit),
      includeRevoked: input.include_revoked ?? false,
      ...(input.cursor === undefined ? {} : { cursor: input.cursor }),
    });
    const { items, next_cursor } = shapePage(page, toOperatorView);
    return { operators: items, next_cursor };
  },
});
