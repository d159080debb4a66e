// get_instance: one instance with what it runs and what it should run.
import { safeText } from '../src/domain/text.js';
import { defineTool } from '../src/mcp/define-tool.js';
import { instanceDetailView, toInstanceDetailView } from './shared/fleet-views.js';

export default defineTool({
  name: 'get_instance',
  title: 'Get instance',
  description:
    'Shows one instance: status, health, last heartbeat, running module digests and desired module versions; reads only.',
  role: 'viewer',
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  input: { id: safeText({ min: 1 }).describe('instance id') },
  output: { instance: instanceDetailView },
  handler: async ({ services }, input) => ({
    instance: toInstanceDetailView(await services.fleet.getInstance(input.id)),
  }),
});
