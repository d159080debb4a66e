// list_instances: the fleet, filtered by group, status or running module version.
import { z } from 'zod';
import { safeText } from '../src/domain/text.js';
import { INSTANCE_STATUSES } from '../src/domain/fleet.js';
import { defineTool } from '../src/mcp/define-tool.js';
import { clampLimit, nextCursorOutput, pagingInput, shapePage } from '../src/mcp/schemas.js';
import { groupRefInput, instanceView, optionalGroupRef, toInstanceView } from './shared/fleet-views.js';
import { moduleRefInput } from './shared/views.js';

export default defineTool({
  name: 'list_instances',
  title: 'List instances',
  description:
    'Lists instances with status, health and running module digests, filtered by group, status or a running module version; reads only.',
  role: 'viewer',
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  input: {
    ...groupRefInput,
    status: z.enum(INSTANCE_STATUSES).optional().describe('only instances in this status'),
    ...moduleRefInput,
    version: safeText({ min: 1 })
      .optional()
      .describe('with module_name/module_id: only instances running this version (id or string)'),
    ...pagingInput,
  },
  output: { instances: z.array(instanceView), next_cursor: nextCursorOutput },
  handler: async ({ services }, input) => {
    const group = optionalGroupRef(input);
    const hasModule = input.module_name !== undefined || input.module_id !== undefined;
    const page = await services.fleet.listInstances({
      limit: clampLimit(input.limit),
      ...(group === undefined ? {} : { group }),
      ...(input.status === undefined ? {} : { status: input.status }),
      ...(hasModule
        ? { module: input.module_id !== undefined ? { moduleId: input.module_id } : { moduleName: input.module_name! } }
        : {}),
      ...(input.version === undefined ? {} : { version: input.version }),
      ...(input.cursor === undefined ? {} : { cursor: input.cursor }),
    });
    const { items, next_cursor } = shapePage(page, toInstanceView);
    return { instances: items, next_cursor };
  },
});
