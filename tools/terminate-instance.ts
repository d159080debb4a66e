// terminate_instance: retires an instance; its agent token stops working.
import { z } from 'zod';
import { defineTool } from '../src/mcp/define-tool.js';
import { instanceDetailView, toInstanceDetailView } from './shared/fleet-views.js';

export default defineTool({
  name: 'terminate_instance',
  title: 'Terminate instance',
  description:
    'Marks an instance terminated and revokes its agent token (its heartbeats get 401 from then on); writes instance.terminated.',
  role: 'operator',
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  input: { id: z.string().min(1).describe('instance id') },
  output: { instance: instanceDetailView },
  handler: async ({ services, caller }, input) => ({
    instance: toInstanceDetailView(await services.fleet.terminate(caller, input.id)),
  }),
});
