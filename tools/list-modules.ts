// list_modules: the modules this platform knows, by name.
import { z } from 'zod';
import { defineTool } from '../src/mcp/define-tool.js';
import { clampLimit, isoTime, nextCursorOutput, pagingInput, shapePage } from '../src/mcp/schemas.js';

export default defineTool({
  name: 'list_modules',
  title: 'List modules',
  description: 'Lists modules by name with their version count and newest version; reads only.',
  role: 'viewer',
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  input: { ...pagingInput },
  output: {
    modules: z.array(
      z.object({
        id: z.string(),
        name: z.string(),
        version_count: z.number().int(),
        latest_version: z.string().nullable(),
        created_at: isoTime,
      }),
    ),
    next_cursor: nextCursorOutput,
  },
  handler: async ({ services }, input) => {
    const page = await services.modules.listModules({
      limit: clampLimit(input.limit),
      ...(input.cursor === undefined ? {} : { cursor: input.cursor }),
    });
    const { items, next_cursor } = shapePage(page, (m) => ({
      id: m.id,
      name: m.name,
      version_count: m.versionCount,
      latest_version: m.latestVersion,
      created_at: m.createdAt.toISOString(),
    }));
    return { modules: items, next_cursor };
  },
});
