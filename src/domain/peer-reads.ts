// What a peer may read of this platform (its fleet summarized, its module versions) and how one
// peering's ingress boundary is summarized for the topology. Shapes and pure functions only: no I/O.
import { z } from 'zod';
import { CAPABILITIES, evaluateBoundary, type BoundaryRule, type Capability } from './capabilities.js';
import { groupNameSchema, moduleNameSchema } from './names.js';

/** At most this many instances are listed in an inventory answer; counts cover all of them. */
export const INVENTORY_INSTANCE_LIMIT = 500;
/** At most this many module versions are listed in a module versions answer. */
export const MODULE_VERSIONS_LIMIT = 2000;

export const inventoryArgsSchema = z.strictObject({ group: groupNameSchema.optional() });
export const moduleVersionsArgsSchema = z.strictObject({ module_name: moduleNameSchema.optional() });

const counts = z.record(z.string(), z.number().int().min(0));

export const peerInstanceSchema = z.object({
  name: z.string(),
  group: z.string(),
  region: z.string().nullable(),
  status: z.string(),
  last_heartbeat_at: z.string().nullable(),
  running_module_digests: z.record(z.string(), z.string()),
});

/** The answer of `inventory.summary`: non-terminated instances counted, and the first ones listed. */
export const inventorySummarySchema = z.object({
  group: z.string().nullable().describe('the group asked for, or null for the whole fleet'),
  total_instances: z.number().int().min(0),
  by_group: counts,
  by_status: counts,
  by_region: counts.describe('instances per region; "unknown" for instances that reported none'),
  instances: z.array(peerInstanceSchema).max(INVENTORY_INSTANCE_LIMIT),
  truncated: z.boolean().describe(`true when more than ${INVENTORY_INSTANCE_LIMIT} instances matched`),
});
export type InventorySummary = z.infer<typeof inventorySummarySchema>;

export const peerModuleSchema = z.object({
  name: z.string(),
  versions: z.array(
    z.object({ version: z.string(), lifecycle_state: z.string(), digest: z.string(), created_at: z.string() }),
  ),
});

/** The answer of `module_versions.list`: modules by name, each with its versions oldest first. */
export const moduleVersionsAnswerSchema = z.object({
  modules: z.array(peerModuleSchema),
  truncated: z.boolean().describe(`true when more than ${MODULE_VERSIONS_LIMIT} versions matched`),
});
export type ModuleVersionsAnswer = z.infer<typeof moduleVersionsAnswerSchema>;

/** What one peering's ingress boundary lets through now. */
export interface BoundarySummary {
  rules: number;
  allowed: Capability[];
  dropped: Capability[];
}

/** Evaluates the ingress rules for each named capability (not `*`): which pass, which are dropped. */
export function summarizeBoundary(
  rules: readonly Pick<BoundaryRule, 'id' | 'action' | 'capability' | 'priority'>[],
): BoundarySummary {
  const named = CAPABILITIES.filter((c) => c !== '*');
  const allowed = named.filter((c) => evaluateBoundary(rules, c).action === 'accept');
  return { rules: rules.length, allowed, dropped: named.filter((c) => !allowed.includes(c)) };
}
