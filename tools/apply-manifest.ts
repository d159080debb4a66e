// apply_manifest: makes this platform match a fleet manifest, through the services, as the caller.
import { z } from 'zod';
import { defineTool } from '../src/mcp/define-tool.js';
import { manifestChangeView, manifestCountsView, manifestInput, toChangeViews } from './shared/manifest-views.js';

export default defineTool({
  name: 'apply_manifest',
  title: 'Apply manifest',
  description:
    'Validates a fleet manifest completely (schema, peers, digests, lifecycle moves, roles) and only then applies its changes as the caller, each with its usual events and audit entries; applying it again changes nothing.',
  role: 'operator',
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  input: { manifest: manifestInput },
  output: {
    applied: z.array(manifestChangeView).describe('the changes made, in the order they were made'),
    counts: manifestCountsView,
    up_to_date: z.boolean().describe('true when the platform already matched and nothing was changed'),
    summary: z.string().describe('one line saying what was applied, or that nothing changed'),
  },
  handler: async ({ services, caller }, input) => {
    const result = await services.manifests.apply(caller, input.manifest);
    return {
      applied: toChangeViews(result).filter((c) => c.change !== 'none'),
      counts: result.counts,
      up_to_date: result.upToDate,
      summary: result.upToDate
        ? `nothing changed: the platform already matches the manifest (${result.counts.none} items)`
        : `applied: ${result.counts.create} created, ${result.counts.update} updated, ${result.counts.delete} deleted, ${result.counts.none} unchanged`,
    };
  },
});
