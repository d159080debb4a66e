// start_migration_chain: applies a migration here and relays it hop by hop down a path of peers.
import { chainPathSchema, migrationSchema } from '../src/domain/migration-chain.js';
import { defineTool } from '../src/mcp/define-tool.js';
import { migrationChainView, toMigrationChainView } from './shared/migration-chain-views.js';

export default defineTool({
  name: 'start_migration_chain',
  title: 'Start migration chain',
  description:
    'Publishes a module version here and relays it down a path of peers (path[0] a peer here, each later name a peer of the hop before it), where each hop applies it only after its own operators approve (decide_approval there) and relays onward, a rejected or failed hop stopping the chain.',
  role: 'admin',
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  input: {
    migration: migrationSchema.describe(
      'what to apply on every hop: { kind: "publish_module_version", module_name, version, digest }',
    ),
    path: chainPathSchema.describe('peer names in hop order, e.g. ["b", "c"]: b is a peer here, c a peer of b'),
  },
  output: { migration_chain: migrationChainView },
  handler: async ({ services, caller }, input) => ({
    migration_chain: toMigrationChainView(
      await services.migrationChains.start(caller, { migration: input.migration, path: input.path }),
    ),
  }),
});
