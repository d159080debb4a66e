// Data residency (P9.4): the resource kinds a policy can pin to a region, the policy's shape, and the
// decision whether a transfer of some kinds to a peer would take them out of the region. Pure: no I/O.
import { z } from 'zod';
import { safeText } from './text.js';
import { regionSchema } from './names.js';

/** What a transfer to a peer can carry; `module_config` is version metadata and digests. */
export const RESOURCE_KINDS = [
  'module_config',
  'secrets',
  'credentials',
  'inventory',
  'events',
  'audit',
  'deployments',
] as const;
export type ResourceKind = (typeof RESOURCE_KINDS)[number];

export const RESIDENCY_CONSTRAINTS = ['must_not_leave_region'] as const;
export type ResidencyConstraint = (typeof RESIDENCY_CONSTRAINTS)[number];

/** A peer's policy, in the tutorial's shape: resources of these kinds may go to the peer only while it is in `region`. */
export interface ResidencyPolicy {
  resource_kinds: ResourceKind[];
  constraint: ResidencyConstraint;
  region: string;
}

/** A peer's policy with who set it and when. */
export interface StoredResidencyPolicy {
  federationPeerId: string;
  policy: ResidencyPolicy;
  setBy: string;
  setAt: Date;
}

export interface ResidencyOverride {
  id: string;
  federationPeerId: string;
  resourceKinds: ResourceKind[];
  reason: string;
  createdBy: string;
  createdAt: Date;
  consumedAt: Date | null;
  consumedAction: string | null;
}

export const resourceKindSchema = z.enum(RESOURCE_KINDS);

/** A non-empty list of kinds without repeats. */
export const resourceKindsSchema = z
  .array(resourceKindSchema)
  .min(1, 'name at least one resource kind')
  .max(RESOURCE_KINDS.length)
  .refine((kinds) => new Set(kinds).size === kinds.length, 'each resource kind at most once');

export const residencyPolicySchema = z.strictObject({
  resource_kinds: resourceKindsSchema.describe(`kinds pinned to the region: ${RESOURCE_KINDS.join(', ')}`),
  constraint: z.enum(RESIDENCY_CONSTRAINTS).describe('must_not_leave_region: the only constraint'),
  region: regionSchema.describe('the region the peer must be in to receive them, e.g. eu-west-1'),
});

/** A policy as the other side declared it for this platform: kinds this side may not know are kept as given. */
export const declaredResidencySchema = z.object({
  resource_kinds: z.array(safeText({ min: 1, max: 64 })).max(32),
  constraint: safeText({ min: 1, max: 64 }),
  region: safeText({ min: 1, max: 64 }),
});
export type DeclaredResidency = z.infer<typeof declaredResidencySchema>;

/**
 * The policy in a peer's accept answer (`data_residency`: zero or one policy), or null when it declared
 * none or sent something unreadable: it is shown to operators, never enforced here.
 */
export function parseDeclaredResidency(value: unknown): DeclaredResidency | null {
  if (!Array.isArray(value) || value.length === 0) return null;
  const parsed = declaredResidencySchema.safeParse(value[0]);
  return parsed.success ? parsed.data : null;
}

/** Kinds in the canonical order of RESOURCE_KINDS, each once. */
export function canonicalKinds(kinds: readonly ResourceKind[]): ResourceKind[] {
  const set = new Set(kinds);
  return RESOURCE_KINDS.filter((k) => set.has(k));
}

/**
 * True when `peerRegion` lies inside `policyRegion`: the same region, or a sub-region of it by
 * dash-separated prefix (`eu` holds `eu-west-1`, `eu-west` holds `eu-west-1`, `eu-west-1` holds only
 * itself). An unknown peer region lies outside every region.
 */
export function regionWithin(peerRegion: string | null, policyRegion: string): boolean {
  if (peerRegion === null) return false;
  return peerRegion === policyRegion || peerRegion.startsWith(`${policyRegion}-`);
}

export type ResidencyDecision =
  | { allowed: true }
  | {
      allowed: false;
      /** The transferred kinds the policy pins, which would leave the region. */
      leaving: ResourceKind[];
      policyRegion: string;
      peerRegion: string | null;
    };

/**
 * Whether sending resources of `kinds` to a peer in `peerRegion` keeps the policy. No policy, no
 * pinned kind among `kinds`, or a peer inside the policy's region: allowed.
 */
export function residencyDecision(
  policy: ResidencyPolicy | null,
  peerRegion: string | null,
  kinds: readonly ResourceKind[],
): ResidencyDecision {
  if (policy === null) return { allowed: true };
  const pinned = new Set(policy.resource_kinds);
  const leaving = canonicalKinds(kinds.filter((k) => pinned.has(k)));
  if (leaving.length === 0 || regionWithin(peerRegion, policy.region)) return { allowed: true };
  return { allowed: false, leaving, policyRegion: policy.region, peerRegion };
}

/** The three ways out of a refusal, after the seed tutorial's troubleshooting note. */
export const RESIDENCY_VIOLATION_HINT =
  'keep the action in-region (a peer inside the policy region), relax the policy with set_data_residency, ' +
  'or create a one-time, audited exception with override_data_residency';
