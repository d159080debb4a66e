// Fleet output shapes and the group/template_id input shared by fleet tools.
import { z } from 'zod';
import { safeText } from '../../src/domain/text.js';
import { INSTANCE_STATUSES, type GroupRef, type Instance } from '../../src/domain/fleet.js';
import { InvalidInputError } from '../../src/errors.js';
import { isoTime } from '../../src/mcp/schemas.js';
import type { InstanceDetail } from '../../src/services/fleet-service.js';

export const groupRefInput = {
  group: safeText({ min: 1 }).optional().describe('group name (or give template_id)'),
  template_id: safeText({ min: 1 }).optional().describe("group id or name, as the seeds' templates (or give group)"),
};

/** Exactly one of group / template_id. */
export function groupRefFrom(input: { group?: string | undefined; template_id?: string | undefined }): GroupRef {
  if (input.group !== undefined && input.template_id !== undefined) {
    throw new InvalidInputError('give group or template_id, not both');
  }
  if (input.group !== undefined) return { groupName: input.group };
  if (input.template_id !== undefined) return { groupId: input.template_id };
  throw new InvalidInputError('group or template_id is required');
}

/** group / template_id when one is given, else undefined. */
export function optionalGroupRef(input: {
  group?: string | undefined;
  template_id?: string | undefined;
}): GroupRef | undefined {
  return input.group === undefined && input.template_id === undefined ? undefined : groupRefFrom(input);
}

export const instanceView = z.object({
  id: z.string(),
  name: z.string(),
  group_id: z.string(),
  group: z.string(),
  region: z.string().nullable(),
  labels: z.record(z.string(), z.string()),
  status: z.enum(INSTANCE_STATUSES),
  health: z.enum(['ok', 'degraded', 'failed', 'unknown']),
  agent_status: z.string().nullable(),
  running_module_digests: z.record(z.string(), z.string()),
  enrolled_at: isoTime,
  last_heartbeat_at: isoTime.nullable(),
  terminated_at: isoTime.nullable(),
});

export function toInstanceView(i: Instance): z.infer<typeof instanceView> {
  return {
    id: i.id,
    name: i.name,
    group_id: i.groupId,
    group: i.groupName,
    region: i.region,
    labels: i.labels,
    status: i.status,
    health: i.health,
    agent_status: i.agentStatus,
    running_module_digests: i.runningModuleDigests,
    enrolled_at: i.enrolledAt.toISOString(),
    last_heartbeat_at: i.lastHeartbeatAt?.toISOString() ?? null,
    terminated_at: i.terminatedAt?.toISOString() ?? null,
  };
}

export const desiredVersionView = z.object({
  module_name: z.string(),
  version: z.string(),
  version_id: z.string(),
  digest: z.string(),
});

export const instanceDetailView = instanceView.extend({ desired_module_versions: z.array(desiredVersionView) });

export function toInstanceDetailView(i: InstanceDetail): z.infer<typeof instanceDetailView> {
  return {
    ...toInstanceView(i),
    desired_module_versions: i.desired.map((d) => ({
      module_name: d.moduleName,
      version: d.version,
      version_id: d.versionId,
      digest: d.digest,
    })),
  };
}
