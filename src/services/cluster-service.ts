// Cluster membership on a shared Postgres: this process registers itself at start, refreshes its
// last-seen time each reconciler tick and marks itself stopped at a clean close; the other live
// members are listed with a status from their last-seen times. Does nothing on PGlite (one process).
import { MEMBER_FORGET_MS, memberStatus, type ClusterMember, type MemberStatus } from '../domain/spawn.js';
import {
  listLiveMembers,
  spawnedChildIds,
  stopClusterMember,
  touchClusterMember,
  upsertClusterMember,
} from '../store/spawn-repository.js';
import type { ServiceDeps } from './context.js';

/** This process as a member. */
export interface MemberIdentity {
  /** Known when this process was spawned as a cluster member: its child_instance_id. */
  id?: string | undefined;
  name: string;
  region: string | null;
  /** The URL this process serves at, null without an HTTP listener. */
  url: () => string | null;
  pid: number;
  hostname: string;
}

export interface ListedMember extends ClusterMember {
  status: MemberStatus;
  /** Set when this platform spawned the member (spawn_child_platform cluster_member). */
  childInstanceId: string | null;
}

export class ClusterService {
  private selfId: string | null = null;

  constructor(
    private readonly deps: ServiceDeps,
    private readonly opts: { enabled: boolean; tickMs: number; self: MemberIdentity },
  ) {}

  /** This process's member id, once registered (null on PGlite). */
  get memberId(): string | null {
    return this.selfId;
  }

  /** Registers this process as a live member (Postgres only). */
  async register(): Promise<ClusterMember | null> {
    if (!this.opts.enabled) return null;
    const { self } = this.opts;
    const member = await upsertClusterMember(this.deps.db, {
      ...(self.id === undefined ? {} : { id: self.id }),
      name: self.name,
      region: self.region,
      url: self.url(),
      pid: self.pid,
      hostname: self.hostname,
      at: this.deps.clock.now(),
    });
    this.selfId = member.id;
    return member;
  }

  /** The reconciler step: this process is still here. */
  async heartbeat(now: Date): Promise<void> {
    if (this.selfId !== null) await touchClusterMember(this.deps.db, this.selfId, now);
  }

  /** A clean stop: the member is no longer listed. Best effort (the store may be gone). */
  async stop(): Promise<void> {
    if (this.selfId === null) return;
    try {
      await stopClusterMember(this.deps.db, this.selfId, this.deps.clock.now());
    } catch (err) {
      this.deps.logger.warn({ err: { message: (err as Error).message } }, 'could not mark this cluster member stopped');
    }
  }

  /** The other members that have not stopped, active when seen within 3 ticks, else lost_contact. */
  async otherMembers(): Promise<ListedMember[]> {
    const now = this.deps.clock.now();
    const members = await listLiveMembers(this.deps.db, {
      exceptId: this.selfId,
      seenAfter: new Date(now.getTime() - MEMBER_FORGET_MS),
    });
    const spawned = await spawnedChildIds(
      this.deps.db,
      members.map((m) => m.id),
    );
    return members.map((m) => ({
      ...m,
      status: memberStatus(m.lastSeenAt, now, this.opts.tickMs),
      childInstanceId: spawned.has(m.id) ? m.id : null,
    }));
  }
}
