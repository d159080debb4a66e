// Spawning child platforms: a managed_child or autonomous_peer is proposed exactly as
// propose_federation_peer does (FederationService.propose), then a provider starts it with a bootstrap
// file carrying the token, and the child completes the handshake on first boot; a cluster_member is
// another process on this platform's Postgres (no handshake). Also terminates children and, each
// reconciler tick, marks them running once their peering is active, or failed when the process died.
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { FederationPeer, SpawnMode } from '../domain/federation.js';
import { isUuid } from '../domain/names.js';
import type { Caller } from '../domain/roles.js';
import type { SpawnedChild } from '../domain/spawn.js';
import { ConflictError, FlotillaError, UnavailableError } from '../errors.js';
import type { PlatformProvider, StartedChild, StopOutcome } from '../federation/spawn/provider.js';
import { appendEvent } from '../store/events-repository.js';
import type { StoreKind } from '../store/db.js';
import {
  childIdsByPeer,
  findLiveChildByName,
  findSpawnedChild,
  insertSpawnedChild,
  listLiveChildren,
  stopClusterMember,
  transitionChild,
} from '../store/spawn-repository.js';
import type { AuditService } from './audit-service.js';
import type { ServiceDeps } from './context.js';
import type { FederationService } from './federation-service.js';
import { requireRole } from './operators-service.js';
import { CONTRACT_VERSION } from './platform-service.js';

export interface SpawnOptions {
  provider: PlatformProvider;
  storeKind: StoreKind;
  /** This platform's DATABASE_URL: a cluster member is started on it. */
  databaseUrl: string | undefined;
  /** The URL a child reaches this platform at. */
  parentUrl: () => string;
  /** This platform's region: a child's default. */
  region: string | null;
  tickMs: number;
  logLevel: string;
  /** Between SIGTERM and SIGKILL at terminate; default 10 s. */
  stopGraceMs?: number;
}

export interface SpawnResult {
  child: SpawnedChild;
  /** The parent-side peering (proposed); null for a cluster member. */
  peer: FederationPeer | null;
  /** Shown once; null for a cluster member. */
  acceptanceToken: string | null;
}

export interface TerminatedChild {
  child: SpawnedChild;
  /** How the process group was stopped; null when no process was recorded. */
  stoppedWith: StopOutcome | null;
}

export class SpawnService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly federation: FederationService,
    private readonly audit: AuditService,
    private readonly opts: SpawnOptions,
  ) {}

  /** Starts a child platform; for a federated mode returns the proposed peering and its token, once. */
  async spawn(
    caller: Caller,
    input: { spawnMode: SpawnMode; childName: string; region?: string | null },
  ): Promise<SpawnResult> {
    requireRole(caller, 'admin', 'spawning a child platform');
    const region = input.region ?? this.opts.region;
    if (input.spawnMode === 'cluster_member') return this.spawnMember(caller, input.childName, region);

    const parentUrl = this.opts.parentUrl(); // before anything is written: a child must reach us
    const proposed = await this.federation.propose(caller, { name: input.childName, spawnMode: input.spawnMode });
    const id = randomUUID();
    let started: StartedChild;
    try {
      started = await this.opts.provider.start({
        id,
        name: input.childName,
        spawnMode: input.spawnMode,
        region,
        parentUrl,
        acceptanceToken: proposed.acceptanceToken,
        contractVersion: CONTRACT_VERSION,
        sharedDatabaseUrl: null,
        tickMs: this.opts.tickMs,
        logLevel: this.opts.logLevel,
      });
    } catch (err) {
      await this.withdraw(caller, proposed.peer);
      throw startError(err);
    }
    const child = await this.record(caller, { id, peer: proposed.peer, name: input.childName, region, started });
    return { child, peer: proposed.peer, acceptanceToken: proposed.acceptanceToken };
  }

  private async spawnMember(caller: Caller, name: string, region: string | null): Promise<SpawnResult> {
    const url = this.opts.databaseUrl;
    if (this.opts.storeKind !== 'postgres' || url === undefined || !/^postgres(ql)?:\/\//.test(url)) {
      throw new ConflictError(
        this.opts.storeKind === 'postgres'
          ? "a cluster member shares this platform's Postgres, and its URL is not known to this process"
          : 'a cluster member shares the parent platform’s Postgres; this platform runs on the embedded store (PGlite)',
        {
          hint: 'serve the platform with --database-url postgres://… (or DATABASE_URL) to run cluster members; spawn a managed_child or autonomous_peer for a platform with its own store',
          details: { store: this.opts.storeKind },
        },
      );
    }
    const taken = await findLiveChildByName(this.deps.db, name);
    if (taken !== null) {
      throw new ConflictError(`a child platform named ${name} is already ${taken.status} (${taken.id})`, {
        hint: 'pick another child_name, or terminate_instance the running one first',
      });
    }
    const id = randomUUID();
    let started: StartedChild;
    try {
      started = await this.opts.provider.start({
        id,
        name,
        spawnMode: 'cluster_member',
        region,
        parentUrl: null,
        acceptanceToken: null,
        contractVersion: CONTRACT_VERSION,
        sharedDatabaseUrl: url,
        tickMs: this.opts.tickMs,
        logLevel: this.opts.logLevel,
      });
    } catch (err) {
      throw startError(err);
    }
    const child = await this.record(caller, { id, peer: null, name, region, started });
    return { child, peer: null, acceptanceToken: null };
  }

  /** Writes the spawned_children row (and, for a peering, its audit entry); stops the child if that fails. */
  private async record(
    caller: Caller,
    input: { id: string; peer: FederationPeer | null; name: string; region: string | null; started: StartedChild },
  ): Promise<SpawnedChild> {
    const { started, peer } = input;
    const spawnMode = peer?.spawnMode ?? 'cluster_member';
    try {
      return await this.deps.db.transaction().execute(async (trx) => {
        const now = this.deps.clock.now();
        const child = await insertSpawnedChild(trx, {
          id: input.id,
          federationPeerId: peer?.id ?? null,
          name: input.name,
          spawnMode,
          region: input.region,
          provider: this.opts.provider.name,
          url: started.url,
          port: started.port,
          dataDir: started.dataDir,
          pid: started.pid,
          hostname: started.hostname,
          createdBy: caller.name,
          at: now,
        });
        const payload = {
          child_instance_id: child.id,
          name: child.name,
          spawn_mode: spawnMode,
          provider: child.provider,
          url: child.url,
          region: child.region,
        };
        if (peer !== null) {
          await this.audit.append(peer.id, { actor: caller.name, action: 'federation.child.spawned', payload }, trx);
        }
        await appendEvent(
          trx,
          { kind: 'federation.child.spawned', actor: caller.name, payload: { ...payload, peer_id: peer?.id ?? null } },
          now,
        );
        return child;
      });
    } catch (err) {
      await this.opts.provider.stop({ pid: started.pid }, 0).catch(() => undefined);
      if (peer !== null) await this.withdraw(caller, peer);
      throw err;
    }
  }

  /** Revokes a proposal whose child never started, so its token is dead. */
  private async withdraw(caller: Caller, peer: FederationPeer): Promise<void> {
    try {
      await this.federation.revoke(caller, peer.id);
    } catch (err) {
      this.deps.logger.warn({ err, peerId: peer.id }, 'could not revoke the proposal of a child that did not start');
    }
  }

  /** A spawned child by its child_instance_id, or null (the id may be a fleet instance's). */
  async find(id: string): Promise<SpawnedChild | null> {
    return isUuid(id) ? findSpawnedChild(this.deps.db, id) : null;
  }

  /** child_instance_id by peer id, for the peers this platform spawned. */
  childIdsByPeer(peerIds: readonly string[]): Promise<Map<string, string>> {
    return childIdsByPeer(this.deps.db, peerIds);
  }

  /**
   * Stops a spawned child's whole process group (SIGTERM, SIGKILL after the grace period) and marks it
   * terminated, audited on its peer's log. The peering stays: revoke_federation_peer ends it.
   * Null when `id` is no spawned child (the caller then treats it as a fleet instance).
   */
  async terminate(caller: Caller, id: string): Promise<TerminatedChild | null> {
    const child = await this.find(id);
    if (child === null) return null;
    requireRole(caller, 'admin', 'terminating a child platform');
    if (child.status === 'terminated') {
      throw new ConflictError(`child platform ${child.name} (${id}) is already terminated`, {
        hint: 'list_federation_peers shows its peering; revoke_federation_peer ends that',
      });
    }
    if (child.provider !== this.opts.provider.name) {
      throw new ConflictError(`child platform ${child.name} was started by provider ${child.provider}`, {
        hint: `terminate it from a platform configured with the ${child.provider} provider`,
      });
    }
    let stoppedWith: StopOutcome | null = null;
    if (child.pid !== null) {
      if (child.hostname !== null && child.hostname !== os.hostname()) {
        throw new ConflictError(`child platform ${child.name} runs on host ${child.hostname}, not here`, {
          hint: `call terminate_instance on a replica running on ${child.hostname}`,
        });
      }
      stoppedWith = await this.opts.provider.stop({ pid: child.pid }, this.opts.stopGraceMs ?? 10_000);
    }
    const terminated = await this.deps.db.transaction().execute(async (trx) => {
      const now = this.deps.clock.now();
      const row = await transitionChild(trx, id, ['starting', 'running', 'failed'], 'terminated', now);
      if (row === null) throw new ConflictError(`child platform ${child.name} (${id}) is already terminated`);
      const payload = { child_instance_id: id, name: row.name, pid: row.pid, stopped_with: stoppedWith };
      if (row.federationPeerId !== null) {
        await this.audit.append(
          row.federationPeerId,
          { actor: caller.name, action: 'federation.child.terminated', payload },
          trx,
        );
      } else {
        await stopClusterMember(trx, id, now);
      }
      await appendEvent(
        trx,
        {
          kind: 'federation.child.terminated',
          actor: caller.name,
          payload: { ...payload, peer_id: row.federationPeerId, spawn_mode: row.spawnMode },
        },
        now,
      );
      return row;
    });
    this.deps.logger.info({ childInstanceId: id, stoppedWith }, 'child platform terminated');
    return { child: terminated, stoppedWith };
  }

  /**
   * The reconciler step: a starting child whose peering is active (or, for a member, who has registered)
   * is running; a child of this host whose process group is gone is failed, with the reason.
   */
  async reconcile(now: Date): Promise<void> {
    for (const child of await listLiveChildren(this.deps.db)) {
      const checkable =
        child.pid !== null && child.provider === this.opts.provider.name && child.hostname === os.hostname();
      if (checkable && !this.opts.provider.isAlive({ pid: child.pid! })) {
        const joined = child.spawnMode === 'cluster_member' ? 'joined the cluster' : 'completed the handshake';
        const reason =
          child.status === 'starting'
            ? `the child process exited before it ${joined}; see ${child.dataDir ?? 'its folder'}/platform.log`
            : `the child process exited; see ${child.dataDir ?? 'its folder'}/platform.log`;
        await this.markFailed(child, reason, now);
        continue;
      }
      const up =
        child.spawnMode === 'cluster_member'
          ? child.memberSeenAt !== null
          : child.peerStatus === 'active' || child.peerStatus === 'lost_contact';
      if (child.status === 'starting' && up)
        await transitionChild(this.deps.db, child.id, ['starting'], 'running', now);
    }
  }

  private async markFailed(child: SpawnedChild, reason: string, now: Date): Promise<void> {
    await this.deps.db.transaction().execute(async (trx) => {
      const row = await transitionChild(trx, child.id, ['starting', 'running'], 'failed', now, reason);
      if (row === null || row.federationPeerId === null) return;
      await this.audit.append(
        row.federationPeerId,
        { actor: 'system', action: 'federation.child.failed', payload: { child_instance_id: row.id, reason } },
        trx,
      );
    });
    this.deps.logger.warn({ childInstanceId: child.id, reason }, 'child platform failed');
  }
}

function startError(err: unknown): FlotillaError {
  if (err instanceof FlotillaError) return err;
  return new UnavailableError(`could not start the child platform: ${(err as Error).message}`, {
    cause: err,
    hint: 'check the children directory (--children-dir) is writable',
  });
}
