// Federated deployments as the creating platform sees them, and their rules as pure functions: what
// version and group a share runs after overrides, a share's state from what its platform last reported,
// the overall state from the shares, and why a share counts as drifted. Pure: no I/O.
import { z } from 'zod';
import { safeText } from './text.js';
import type { PlacementPolicy } from './placement.js';
import { strategySchema, type Strategy } from './strategy.js';

export const FEDERATED_DEPLOYMENT_STATES = ['active', 'deleted'] as const;
export type FederatedDeploymentState = (typeof FEDERATED_DEPLOYMENT_STATES)[number];

export const SHARE_STATES = [
  'pending',
  'in_sync',
  'progressing',
  'drifted',
  'failed',
  'unreachable',
  'failed_over',
] as const;
export type ShareState = (typeof SHARE_STATES)[number];

export const OVERALL_STATES = ['in_sync', 'progressing', 'drifted', 'degraded'] as const;
export type OverallState = (typeof OVERALL_STATES)[number];

/** Per peer (by name): the version and/or group its share runs instead of the deployment's. */
export const shareOverrideSchema = z.strictObject({
  version: safeText({ min: 1, max: 200 }).optional().describe("the version this peer runs instead of the deployment's"),
  group: z
    .string()
    .min(1)
    .max(128)
    .optional()
    .describe("the group whose instances run it there instead of the deployment's"),
});
export const overridesSchema = z.record(safeText({ min: 1, max: 200 }), shareOverrideSchema);
export type ShareOverrides = z.infer<typeof overridesSchema>;

/**
 * How a share's platform moves instances that run another version of the module to the deployment's:
 * an ordinary rolling upgrade there, under that platform's own intervention policy.
 */
export const deploymentRolloutSchema = z.strictObject({
  strategy: strategySchema.optional().describe('default { type: "batch", batch_pct: 25 }'),
  max_consecutive_failures: z.number().int().min(1).max(1000).optional().describe('default 2'),
  health_timeout_sec: z.number().int().min(1).max(86_400).optional().describe('default 300'),
});
export interface DeploymentRollout {
  strategy: Strategy;
  max_consecutive_failures: number;
  health_timeout_sec: number;
}
export const DEFAULT_DEPLOYMENT_ROLLOUT: DeploymentRollout = {
  strategy: { type: 'batch', batch_pct: 25 },
  max_consecutive_failures: 2,
  health_timeout_sec: 300,
};
export function deploymentRolloutOf(input: z.infer<typeof deploymentRolloutSchema> | undefined): DeploymentRollout {
  return {
    strategy: input?.strategy ?? DEFAULT_DEPLOYMENT_ROLLOUT.strategy,
    max_consecutive_failures: input?.max_consecutive_failures ?? DEFAULT_DEPLOYMENT_ROLLOUT.max_consecutive_failures,
    health_timeout_sec: input?.health_timeout_sec ?? DEFAULT_DEPLOYMENT_ROLLOUT.health_timeout_sec,
  };
}

export interface FederatedDeployment {
  id: string;
  name: string;
  moduleName: string;
  version: string;
  replicas: number;
  groupName: string;
  includeLocal: boolean;
  placement: PlacementPolicy;
  overrides: ShareOverrides;
  /** The member peers' names. */
  peers: string[];
  /** true: a peer that recovers gets its planned share back from those that covered for it. */
  failback: boolean;
  rollout: DeploymentRollout;
  state: FederatedDeploymentState;
  createdBy: string;
  createdAt: Date;
  updatedAt: Date;
  deletedAt: Date | null;
}

export interface DeploymentShare {
  id: string;
  federatedDeploymentId: string;
  /** null: this platform's own share. */
  federationPeerId: string | null;
  peerName: string;
  /** What the placement gave this peer with every member available. */
  plannedReplicas: number;
  /** What it runs now: the planned share, or another after a failover. */
  desiredReplicas: number;
  version: string;
  groupName: string;
  /** Instances of the group that have the version desired; null until the share's platform reports. */
  assigned: number | null;
  runningHealthy: number | null;
  drifted: number | null;
  lastContactAt: Date | null;
  /** When the share last reached its platform and was applied there; null: not yet. */
  propagatedAt: Date | null;
  lastError: string | null;
  state: ShareState;
  updatedAt: Date;
}

/** What a share's platform reports about it (the `deployments.assign` and `deployments.status` answers). */
export interface ShareReport {
  assigned: number;
  running_healthy: number;
  drifted: number;
  /** Instances moving to the version through a rolling upgrade there (not drift: on their way). */
  upgrading: number;
}

/** The version and group a peer's share runs: the deployment's, unless an override names that peer. */
export function shareTarget(
  d: Pick<FederatedDeployment, 'version' | 'groupName' | 'overrides'>,
  peerName: string,
): { version: string; groupName: string } {
  const o = d.overrides[peerName];
  return { version: o?.version ?? d.version, groupName: o?.group ?? d.groupName };
}

/** The group each overridden peer runs instead of the deployment's, by peer name. */
export function overrideGroups(overrides: ShareOverrides): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, o] of Object.entries(overrides)) if (o.group !== undefined) out[name] = o.group;
  return out;
}

/** Override keys that name no peer of the deployment (a typo would silently do nothing). */
export function unknownOverrideKeys(overrides: ShareOverrides, peerNames: readonly string[]): string[] {
  return Object.keys(overrides).filter((k) => !peerNames.includes(k));
}

/**
 * A share's state from its platform's last report: drifted when an instance lost the version or its
 * platform runs fewer than its share; in_sync when as many instances run it healthy as the share asks;
 * progressing while they come up.
 */
export function shareStateOf(desiredReplicas: number, report: ShareReport): ShareState {
  if (report.drifted > 0 || report.assigned + report.upgrading < desiredReplicas) return 'drifted';
  if (report.assigned < desiredReplicas) return 'progressing';
  if (report.running_healthy >= desiredReplicas) return 'in_sync';
  return 'progressing';
}

/** Why a share counts as drifted, one line per reason (empty when it does not). */
export function driftReasons(
  share: Pick<DeploymentShare, 'peerName' | 'desiredReplicas'>,
  report: ShareReport,
): string[] {
  const out: string[] = [];
  if (report.drifted > 0) {
    out.push(`${report.drifted} instance(s) on ${share.peerName} no longer run the deployment's version`);
  }
  if (report.assigned + report.upgrading < share.desiredReplicas) {
    const moving = report.upgrading > 0 ? ` (${report.upgrading} more upgrading)` : '';
    out.push(`${share.peerName} has ${report.assigned} of its ${share.desiredReplicas} replica(s) assigned${moving}`);
  }
  return out;
}

/**
 * The deployment's state from its shares: degraded when a share failed or its platform cannot be reached,
 * else drifted when one drifted, else in_sync when all are, else progressing. A share that failed over
 * counts for nothing: the peers that took its replicas over carry them.
 */
export function overallStateOf(shares: readonly Pick<DeploymentShare, 'state'>[]): OverallState {
  const live = shares.filter((s) => s.state !== 'failed_over');
  if (live.some((s) => s.state === 'failed' || s.state === 'unreachable')) return 'degraded';
  if (live.some((s) => s.state === 'drifted')) return 'drifted';
  if (live.every((s) => s.state === 'in_sync')) return 'in_sync';
  return 'progressing';
}

/** A member as the reconciler sees it now: may it carry replicas, and how many at most. */
export interface MemberAvailability {
  /** The share's key: the peer's id, or null for this platform. */
  federationPeerId: string | null;
  peerName: string;
  /** false: not active (lost contact, revoked) or excluded by a hard constraint. */
  available: boolean;
  /** Online instances of its group it last reported; null: never reported. */
  capacity: number | null;
  reasons: string[];
}

/**
 * Whether the shares must be placed again because a member cannot carry its share now: a share with
 * replicas on a member that is unavailable, or whose reported capacity is below it. Empty: none.
 */
export function failoverReasons(
  shares: readonly Pick<DeploymentShare, 'federationPeerId' | 'peerName' | 'desiredReplicas'>[],
  members: readonly MemberAvailability[],
): string[] {
  const out: string[] = [];
  for (const s of shares) {
    if (s.desiredReplicas === 0) continue;
    const m = members.find((x) => x.federationPeerId === s.federationPeerId);
    if (m === undefined || !m.available) {
      out.push(`${s.peerName} cannot carry its ${s.desiredReplicas} replica(s): ${m?.reasons.join('; ') || 'gone'}`);
    } else if (m.capacity !== null && m.capacity < s.desiredReplicas) {
      out.push(`${s.peerName} has ${m.capacity} online instance(s) for its ${s.desiredReplicas} replica(s)`);
    }
  }
  return out;
}

/**
 * Whether the planned shares can be restored: the policy asks for it, some share differs from its plan,
 * and every member with a planned share is available with the capacity for it.
 */
export function failbackReady(
  failback: boolean,
  shares: readonly Pick<DeploymentShare, 'federationPeerId' | 'plannedReplicas' | 'desiredReplicas'>[],
  members: readonly MemberAvailability[],
): boolean {
  if (!failback || shares.every((s) => s.plannedReplicas === s.desiredReplicas)) return false;
  return shares.every((s) => {
    if (s.plannedReplicas === 0) return true;
    const m = members.find((x) => x.federationPeerId === s.federationPeerId);
    return m !== undefined && m.available && (m.capacity === null || m.capacity >= s.plannedReplicas);
  });
}
