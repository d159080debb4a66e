// diff_manifest: what applying a fleet manifest would change, without changing anything.
import { z } from 'zod';
import { defineTool } from '../src/mcp/define-tool.js';
import {
  countsLine,
  manifestChangeView,
  manifestCountsView,
  manifestInput,
  toChangeViews,
} from './shared/manifest-views.js';

export default defineTool({
  name: 'diff_manifest',
  title: 'Diff manifest',
  description:
    'Compares a fleet manifest (YAML or JSON) with this platform and lists, per item, what apply_manifest would create, update, delete or leave alone; changes nothing, and refuses an invalid manifest listing every error by its path.',
  role: 'viewer',
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  input: { manifest: manifestInput },
  output: {
    changes: z.array(manifestChangeView).describe('every item of the manifest, in manifest order'),
    counts: manifestCountsView,
    up_to_date: z.boolean().describe('true when applying would change nothing'),
    summary: z.string().describe('one line saying what would change, or that nothing would'),
  },
  handler: async ({ services }, input) => {
    const result = await services.manifests.diff(input.manifest);
    return {
      changes: toChangeViews(result),
      counts: result.counts,
      up_to_date: result.upToDate,
      summary: result.upToDate
        ? `nothing would change: the platform already matches the manifest (${result.counts.none} items)`
        : `would change: ${countsLine(result.counts)}`,
    };
  },
});
