// Federated deployments as the creating platform sees them, and their rules as pure functions: what
// version and group a share runs after overrides, a share's state from what its platform last reported,
// the overall state from the shares, and why a share counts as drifted. Pure: no I/O.
import { z } from 'zod';
import type { PlacementPolicy } from './placement.js';

export const FEDERATED_DEPLOYMENT_STATES = ['active', 'deleted'] as const;
export type FederatedDeploymentState = (typeof FEDERATED_DEPLOYMENT_STATES)[number];

export const SHARE_STATES = ['pending', 'in_sync', 'progressing', 'drifted', 'failed', 'unreachable'] as const;
export type ShareState = (typeof SHARE_STATES)[number];

export const OVERALL_STATES = ['in_sync', 'progressing', 'drifted', 'degraded'] as const;
export type OverallState = (typeof OVERALL_STATES)[number];

/** Per peer (by name): the version and/or group its share runs instead of the deployment's. */
export const shareOverrideSchema = z.strictObject({
  version: z.string().min(1).max(200).optional().describe("the version this peer runs instead of the deployment's"),
  group: z
    .string()
    .min(1)
    .max(128)
    .optional()
    .describe("the group whose instances run it there instead of the deployment's"),
});
export const overridesSchema = z.record(z.string().min(1).max(200), shareOverrideSchema);
export type ShareOverrides = z.infer<typeof overridesSchema>;

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
  desiredReplicas: number;
  version: string;
  groupName: string;
  /** Instances of the group that have the version desired; null until the share's platform reports. */
  assigned: number | null;
  runningHealthy: number | null;
  drifted: number | null;
  lastContactAt: Date | null;
  lastError: string | null;
  state: ShareState;
  updatedAt: Date;
}

/** What a share's platform reports about it (the `deployments.assign` and `deployments.status` answers). */
export interface ShareReport {
  assigned: number;
  running_healthy: number;
  drifted: number;
}

/** The version and group a peer's share runs: the deployment's, unless an override names that peer. */
export function shareTarget(
  d: Pick<FederatedDeployment, 'version' | 'groupName' | 'overrides'>,
  peerName: string,
): { version: string; groupName: string } {
  const o = d.overrides[peerName];
  return { version: o?.version ?? d.version, groupName: o?.group ?? d.groupName };
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
  if (report.drifted > 0 || report.assigned < desiredReplicas) return 'drifted';
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
  if (report.assigned < share.desiredReplicas) {
    out.push(`${share.peerName} has ${report.assigned} of its ${share.desiredReplicas} replica(s) assigned`);
  }
  return out;
}

/**
 * The deployment's state from its shares: degraded when a share failed or its platform cannot be reached,
 * else drifted when one drifted, else in_sync when all are, else progressing.
 */
export function overallStateOf(shares: readonly Pick<DeploymentShare, 'state'>[]): OverallState {
  if (shares.some((s) => s.state === 'failed' || s.state === 'unreachable')) return 'degraded';
  if (shares.some((s) => s.state === 'drifted')) return 'drifted';
  if (shares.every((s) => s.state === 'in_sync')) return 'in_sync';
  return 'progressing';
}
