// get_migration_chain: one migration chain as this platform knows it, hop by hop.
import { defineTool } from '../src/mcp/define-tool.js';
import { migrationChainIdInput, migrationChainView, toMigrationChainView } from './shared/migration-chain-views.js';

export default defineTool({
  name: 'get_migration_chain',
  title: 'Get migration chain',
  description:
    'Shows a migration chain hop by hop as this platform knows it (the origin: every hop, from the reports sent back), each hop pending, waiting at its gate, applied, relayed, rejected or failed, with who decided and when; reads only.',
  role: 'viewer',
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  input: { migration_chain_id: migrationChainIdInput },
  output: { migration_chain: migrationChainView },
  handler: async ({ services }, input) => ({
    migration_chain: toMigrationChainView(await services.migrationChains.get(input.migration_chain_id)),
  }),
});
