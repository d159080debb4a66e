// terminate_instance: retires a fleet instance (its agent token stops working), or stops a child
// platform this platform spawned (its whole process group; the peering stays until revoked).
import { z } from 'zod';
import { safeText } from '../src/domain/text.js';
import { InvalidInputError } from '../src/errors.js';
import { defineTool } from '../src/mcp/define-tool.js';
import { spawnedChildView, toSpawnedChildView } from './shared/federation-views.js';
import { instanceDetailView, toInstanceDetailView } from './shared/fleet-views.js';

export default defineTool({
  name: 'terminate_instance',
  title: 'Terminate instance',
  description:
    'Marks a fleet instance terminated and revokes its agent token (writes instance.terminated), or, given a child_instance_id from spawn_child_platform, stops that child platform’s process group (admin; its peering stays until revoked).',
  role: 'operator',
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  input: {
    id: safeText({ min: 1 }).optional().describe('instance id, or a child_instance_id from spawn_child_platform'),
    instance_id: safeText({ min: 1 }).optional().describe('the same as id'),
  },
  output: {
    kind: z.enum(['fleet_instance', 'platform_child']).describe('what the id named'),
    instance: instanceDetailView.nullable().describe('the fleet instance; null for a platform child'),
    platform_child: spawnedChildView
      .extend({
        stopped_with: z
          .enum(['SIGTERM', 'SIGKILL', 'already_exited'])
          .nullable()
          .describe('how its process group ended'),
      })
      .nullable()
      .describe('the spawned child platform; null for a fleet instance'),
  },
  handler: async ({ services, caller }, input) => {
    if (input.id !== undefined && input.instance_id !== undefined) {
      throw new InvalidInputError('give id or instance_id, not both');
    }
    const id = input.id ?? input.instance_id;
    if (id === undefined) {
      throw new InvalidInputError('id is required', {
        hint: 'list_instances shows fleet instances; spawn_child_platform returned the child_instance_id',
      });
    }
    const child = await services.spawn.terminate(caller, id);
    if (child !== null) {
      return {
        kind: 'platform_child' as const,
        instance: null,
        platform_child: { ...toSpawnedChildView(child.child), stopped_with: child.stoppedWith },
      };
    }
    return {
      kind: 'fleet_instance' as const,
      instance: toInstanceDetailView(await services.fleet.terminate(caller, id)),
      platform_child: null,
    };
  },
});
