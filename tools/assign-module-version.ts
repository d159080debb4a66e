// assign_module_version: sets what a group (or some of its instances) should run.
import { z } from 'zod';
import { safeText } from '../src/domain/text.js';
import { defineTool } from '../src/mcp/define-tool.js';
import { groupRefFrom, groupRefInput } from './shared/fleet-views.js';
import { moduleRefFrom, moduleRefInput } from './shared/views.js';

export default defineTool({
  name: 'assign_module_version',
  title: 'Assign module version',
  description:
    "Sets the desired version of a module for a group's baseline or for listed instances, which agents then apply on their next heartbeat; writes module.version.assigned.",
  role: 'operator',
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  input: {
    ...groupRefInput,
    ...moduleRefInput,
    version_id: safeText({ min: 1 }).describe(
      'version id, or version string within the module (must be published, blessed or live)',
    ),
    instance_ids: z
      .array(safeText({ min: 1 }))
      .min(1)
      .max(1000)
      .optional()
      .describe('only these live instances of the group; omit to set the group baseline'),
  },
  output: {
    group: z.object({ id: z.string(), name: z.string() }),
    module_name: z.string(),
    version: z.string(),
    version_id: z.string(),
    scope: z.enum(['group', 'instances']),
    instance_count: z.number().int().nullable().describe('instances assigned, null for a group baseline'),
  },
  handler: async ({ services, caller }, input) => {
    const r = await services.fleet.assign(caller, {
      group: groupRefFrom(input),
      module: moduleRefFrom(input),
      versionRef: input.version_id,
      ...(input.instance_ids === undefined ? {} : { instanceIds: input.instance_ids }),
    });
    return {
      group: { id: r.group.id, name: r.group.name },
      module_name: r.moduleName,
      version: r.version,
      version_id: r.versionId,
      scope: input.instance_ids === undefined ? ('group' as const) : ('instances' as const),
      instance_count: r.instanceCount,
    };
  },
});
