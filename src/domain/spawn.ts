// Spawned child platforms and cluster members as services return them, and the rule that turns a
// member's last-seen time into a status. Types and pure functions only: no I/O.
import type { SpawnMode } from './federation.js';

export const CHILD_STATUSES = ['starting', 'running', 'terminated', 'failed'] as const;
export type ChildStatus = (typeof CHILD_STATUSES)[number];

/** A child platform a provider started for this platform. `id` is the child_instance_id. */
export interface SpawnedChild {
  id: string;
  /** The parent-side peer row; null for a cluster member (no handshake with itself). */
  federationPeerId: string | null;
  name: string;
  spawnMode: SpawnMode;
  region: string | null;
  provider: string;
  url: string | null;
  port: number | null;
  dataDir: string | null;
  pid: number | null;
  hostname: string | null;
  status: ChildStatus;
  createdBy: string;
  createdAt: Date;
  updatedAt: Date;
  terminatedAt: Date | null;
  lastError: string | null;
}

/** One platform process sharing this platform's Postgres. */
export interface ClusterMember {
  id: string;
  name: string;
  region: string | null;
  url: string | null;
  pid: number;
  hostname: string;
  startedAt: Date;
  lastSeenAt: Date;
  stoppedAt: Date | null;
}

export type MemberStatus = 'active' | 'lost_contact';

/** A member seen within 3 reconciler ticks is active; older, it has lost contact. */
export function memberStatus(lastSeenAt: Date, now: Date, tickMs: number): MemberStatus {
  return now.getTime() - lastSeenAt.getTime() <= 3 * tickMs ? 'active' : 'lost_contact';
}

/** Members not seen for this long are no longer listed (a crashed replica's row stays in the table). */
export const MEMBER_FORGET_MS = 24 * 3600_000;
