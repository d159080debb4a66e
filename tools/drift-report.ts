// drift_report: which instances of a group run something other than what they should.
import { z } from 'zod';
import { defineTool } from '../src/mcp/define-tool.js';
import { groupRefFrom, groupRefInput } from './shared/fleet-views.js';

const MAX_ROWS = 100;

export default defineTool({
  name: 'drift_report',
  title: 'Drift report',
  description:
    "Reports whether a group's live instances drift: a running digest differs from the desired version's digest (a missing module counts); reads only.",
  role: 'viewer',
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  input: { ...groupRefInput },
  output: {
    drift: z.boolean(),
    group: z.object({ id: z.string(), name: z.string() }),
    instance_count: z.number().int().describe('live (not terminated) instances in the group'),
    drifted_count: z.number().int(),
    instances: z
      .array(
        z.object({
          instance_id: z.string(),
          name: z.string(),
          status: z.string(),
          module_name: z.string(),
          desired_version: z.string(),
          desired_digest: z.string(),
          running_digest: z.string().nullable(),
        }),
      )
      .describe(`drifted instance/module pairs, at most ${MAX_ROWS}`),
  },
  handler: async ({ services }, input) => {
    const report = await services.fleet.drift(groupRefFrom(input), MAX_ROWS);
    return {
      drift: report.driftedCount > 0,
      group: { id: report.group.id, name: report.group.name },
      instance_count: report.instanceCount,
      drifted_count: report.driftedCount,
      instances: report.rows.map((r) => ({
        instance_id: r.instanceId,
        name: r.instanceName,
        status: r.status,
        module_name: r.moduleName,
        desired_version: r.desiredVersion,
        desired_digest: r.desiredDigest,
        running_digest: r.runningDigest,
      })),
    };
  },
});
