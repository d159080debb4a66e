// revoke_operator: an admin revokes an operator; its token stops working at once.
import { operatorNameSchema } from '../src/domain/names.js';
import { defineTool } from '../src/mcp/define-tool.js';
import { operatorView, toOperatorView } from './shared/views.js';

export default defineTool({
  name: 'revoke_operator',
  title: 'Revoke operator',
  description:
    'Revokes an operator so its token is refused from the next request (the last active admin cannot be revoked); writes an operator.revoked event.',
  role: 'admin',
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  input: { name: operatorNameSchema.describe('name of the operator to revoke') },
  output: { operator: operatorView },
  handler: async ({ services, caller }, input) => ({
    operator: toOperatorView(await services.operators.revokeAs(caller, input.name)),
  }),
});
