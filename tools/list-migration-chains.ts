// list_migration_chains: the migration chains this platform started or passed on, newest first.
import { z } from 'zod';
import { defineTool } from '../src/mcp/define-tool.js';
import { clampLimit, nextCursorOutput, pagingInput, shapePage } from '../src/mcp/schemas.js';
import { migrationChainView, toMigrationChainView } from './shared/migration-chain-views.js';

export default defineTool({
  name: 'list_migration_chains',
  title: 'List migration chains',
  description:
    'Lists the migration chains this platform started or received newest first, each with its state and hops as known here; reads only.',
  role: 'viewer',
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  input: { ...pagingInput },
  output: { migration_chains: z.array(migrationChainView), next_cursor: nextCursorOutput },
  handler: async ({ services }, input) => {
    const page = await services.migrationChains.list({
      limit: clampLimit(input.limit),
      ...(input.cursor === undefined ? {} : { cursor: input.cursor }),
    });
    const { items, next_cursor } = shapePage(page, toMigrationChainView);
    return { migration_chains: items, next_cursor };
  },
});
