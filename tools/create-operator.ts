// create_operator: an admin issues a new operator and its token, shown once.
import { z } from 'zod';
import { operatorNameSchema } from '../src/domain/names.js';
import { ROLES } from '../src/domain/roles.js';
import { defineTool } from '../src/mcp/define-tool.js';
import { operatorView, toOperatorView } from './shared/views.js';

export default defineTool({
  name: 'create_operator',
  title: 'Create operator',
  description:
    'Creates an operator with a role and returns its bearer token once (only its SHA-256 is stored); writes an operator.created event.',
  role: 'admin',
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  input: {
    name: operatorNameSchema.describe('operator name, unique on this platform; peers match operators by name'),
    role: z.enum(ROLES).describe('viewer < operator < approver < admin'),
  },
  output: {
    operator: operatorView,
    token: z.string().describe('bearer token for this operator; shown only now, store it safely'),
  },
  handler: async ({ services, caller }, input) => {
    const { operator, token } = await services.operators.createAs(caller, { name: input.name, role: input.role });
    return { operator: toOperatorView(operator), token };
  },
});
