// list_module_versions: a module's versions, oldest first, with their lifecycle states.
import { z } from 'zod';
import { LIFECYCLE_STATES } from '../src/domain/lifecycle.js';
import { defineTool } from '../src/mcp/define-tool.js';
import { clampLimit, nextCursorOutput, pagingInput, shapePage } from '../src/mcp/schemas.js';
import { moduleRefFrom, moduleRefInput, moduleVersionView, toVersionView } from './shared/views.js';

export default defineTool({
  name: 'list_module_versions',
  title: 'List module versions',
  description:
    'Lists the versions of one module (by module_name or module_id), oldest first, with digests and lifecycle states; reads only.',
  role: 'viewer',
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  input: {
    ...moduleRefInput,
    lifecycle_state: z.enum(LIFECYCLE_STATES).optional().describe('only versions in this state'),
    ...pagingInput,
  },
  output: {
    module: z.object({ id: z.string(), name: z.string() }),
    versions: z.array(moduleVersionView),
    next_cursor: nextCursorOutput,
  },
  handler: async ({ services }, input) => {
    const { module, page } = await services.modules.listVersions({
      module: moduleRefFrom(input),
      limit: clampLimit(input.limit),
      ...(input.lifecycle_state === undefined ? {} : { lifecycleState: input.lifecycle_state }),
      ...(input.cursor === undefined ? {} : { cursor: input.cursor }),
    });
    const { items, next_cursor } = shapePage(page, toVersionView);
    return { module: { id: module.id, name: module.name }, versions: items, next_cursor };
  },
});
