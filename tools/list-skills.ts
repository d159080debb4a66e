// list_skills: the skills execute_skill runs, with their input schemas.
import { z } from 'zod';
import { defineTool } from '../src/mcp/define-tool.js';
import { clampLimit, nextCursorOutput, pageByKey, pagingInput, shapePage } from '../src/mcp/schemas.js';

export default defineTool({
  name: 'list_skills',
  title: 'List skills',
  description:
    'Lists the skills execute_skill can run (e.g. system-rolling-module-upgrade) with what each does and the JSON schema of its inputs; reads only.',
  role: 'viewer',
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  input: { ...pagingInput },
  output: {
    skills: z.array(
      z.object({
        name: z.string(),
        description: z.string(),
        input_schema: z.record(z.string(), z.unknown()).describe('JSON schema of execute_skill inputs'),
      }),
    ),
    next_cursor: nextCursorOutput,
  },
  handler: async ({ services }, input) => {
    const page = pageByKey(services.skills.list(), (s) => s.name, clampLimit(input.limit), input.cursor);
    const { items, next_cursor } = shapePage(page, (s) => ({
      name: s.name,
      description: s.description,
      input_schema: s.inputSchema,
    }));
    return { skills: items, next_cursor };
  },
});
