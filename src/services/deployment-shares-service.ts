// A federated deployment's share, on the platform that runs it: "N instances of group G run module M at
// version V". Applying a share claims instances no other deployment of M holds here: it assigns V at once
// to those that have no version of M or already are on V, moves those running another version through an
// ordinary rolling upgrade here (this platform's own intervention policy applies: four-eyes parks it for
// a local approver), and gives back what a smaller or moved share no longer needs. A deleted deployment's
// share forgets its claims and leaves what runs. Every query runs on the caller's `db` (a peer call's
// inbox transaction on PGlite).
import { z } from 'zod';
import type { ShareReport } from '../domain/federated-deployment.js';
import { DEPLOYABLE_STATES } from '../domain/lifecycle.js';
import { groupNameSchema, moduleNameSchema } from '../domain/names.js';
import type { Caller } from '../domain/roles.js';
import { strategySchema } from '../domain/strategy.js';
import { ConflictError, NotFoundError } from '../errors.js';
import { appendEvent } from '../store/events-repository.js';
import type { Db } from '../store/executor.js';
import {
  claimAssignments,
  forgetAssignments,
  releaseAssignments,
  shareCandidates,
  shareCounts,
  type ShareCounts,
  type ShareIds,
} from '../store/deployment-assignments-repository.js';
import { findGroup } from '../store/groups-repository.js';
import { setInstanceDesiredVersions } from '../store/instances-repository.js';
import { findModule, findVersion } from '../store/modules-repository.js';
import { findActiveRollout } from '../store/rollouts-repository.js';
import { requireRole } from './operators-service.js';
import type { RolloutsService } from './rollouts-service.js';

/** A share as it travels: the deployment it belongs to and what this platform should run. */
export const shareArgsSchema = z.strictObject({
  federated_deployment_id: z.uuid(),
  name: z.string().min(1).max(200),
  module_name: moduleNameSchema,
  version: z.string().min(1).max(200),
  group: groupNameSchema,
  replicas: z.number().int().min(0).max(10_000_000),
  rollout: z.strictObject({
    strategy: strategySchema,
    max_consecutive_failures: z.number().int().min(1).max(1000),
    health_timeout_sec: z.number().int().min(1).max(86_400),
  }),
});
export type ShareArgs = z.infer<typeof shareArgsSchema>;

/** Rounds of picking and claiming when concurrent shares of the module win instances first. */
const CLAIM_ROUNDS = 3;

/** A deleted deployment, as its platforms are told. */
export const forgetArgsSchema = z.strictObject({
  federated_deployment_id: z.uuid(),
  name: z.string().min(1).max(200),
});
export type ForgetArgs = z.infer<typeof forgetArgsSchema>;

/** What applying a share did here, beside the share's state. */
export interface ShareApplied extends ShareReport {
  assigned_now: number;
  released_now: number;
  /** The rolling upgrade started for instances on another version, if one was. */
  rollout_id: string | null;
}

export class DeploymentSharesService {
  constructor(private readonly rollouts: RolloutsService) {}

  /**
   * Applies a share as `caller` (operator at least): tops the group up to `replicas` instances of the
   * version, then releases what the deployment assigned beyond it, in another group, or of another version.
   * `originPeerId`: the platform the deployment lives on (null: this one).
   */
  async apply(db: Db, caller: Caller, args: ShareArgs, originPeerId: string | null, now: Date): Promise<ShareApplied> {
    requireRole(caller, 'operator', 'assigning a federated deployment share');
    const { group, version } = await resolveShare(db, args);
    const ids: ShareIds = {
      federatedDeploymentId: args.federated_deployment_id,
      groupId: group.id,
      moduleId: version.moduleId,
      moduleName: version.moduleName,
      versionId: version.id,
    };
    const before = (await shareCounts(db, [keyOf(args)]))[0]!;
    // While a rolling upgrade of the module runs in the group, only instances that need none are taken.
    const busy = (await findActiveRollout(db, group.id, version.moduleId)) !== null;
    const { direct, upgrade } = await this.claim(db, ids, {
      digest: version.digest,
      wanted: args.replicas - before.assigned - before.upgrading,
      directOnly: busy,
      originPeerId,
      now,
    });
    const assignedNow = await setInstanceDesiredVersions(db, {
      groupId: group.id,
      instanceIds: direct,
      moduleId: version.moduleId,
      versionId: version.id,
      by: caller.name,
      at: now,
    });
    const rolloutId = await this.upgrade(db, caller, args, ids, upgrade);
    const released = await releaseAssignments(db, { ...ids, excess: Math.max(0, before.assigned - args.replicas) });
    if (assignedNow > 0 || rolloutId !== null || released.length > 0) {
      await appendEvent(
        db,
        {
          kind: 'federation.deployment.share_applied',
          actor: caller.name,
          payload: {
            federated_deployment_id: args.federated_deployment_id,
            name: args.name,
            group: group.name,
            module_name: version.moduleName,
            version: version.version,
            replicas: args.replicas,
            assigned_now: assignedNow,
            released_now: released.length,
            rollout_id: rolloutId,
          },
        },
        now,
      );
    }
    const report = (await this.reports(db, [args]))[0]!;
    return { ...report, assigned_now: assignedNow, released_now: released.length, rollout_id: rolloutId };
  }

  /**
   * Claims up to `wanted` instances for the share. A concurrent share of the module may win some of those
   * picked (it committed first); then it picks again from what is left, a few rounds at most.
   */
  private async claim(
    db: Db,
    ids: ShareIds,
    o: { digest: string; wanted: number; directOnly: boolean; originPeerId: string | null; now: Date },
  ): Promise<{ direct: string[]; upgrade: string[] }> {
    const direct: string[] = [];
    const upgrade: string[] = [];
    for (let round = 0; round < CLAIM_ROUNDS; round += 1) {
      const wanted = o.wanted - direct.length - upgrade.length;
      const picked = await shareCandidates(db, {
        ...ids,
        digest: o.digest,
        limit: wanted,
        directOnly: o.directOnly,
        exclude: [...direct, ...upgrade],
      });
      if (picked.length === 0) break;
      const won = new Set(
        await claimAssignments(db, {
          ...ids,
          originPeerId: o.originPeerId,
          instanceIds: picked.map((p) => p.id),
          at: o.now,
        }),
      );
      for (const p of picked) if (won.has(p.id)) (p.direct ? direct : upgrade).push(p.id);
      if (won.size === picked.length) break;
    }
    return { direct, upgrade };
  }

  /**
   * A deleted deployment's share: forgets which instances it claimed here, leaving their versions in
   * place (deleting a deployment never changes what runs). Returns how many instances it had.
   */
  async forget(
    db: Db,
    caller: Caller,
    args: ForgetArgs,
    originPeerId: string | null,
    now: Date,
  ): Promise<{ forgotten: number }> {
    requireRole(caller, 'operator', 'forgetting a deleted federated deployment');
    const forgotten = await forgetAssignments(db, {
      federatedDeploymentId: args.federated_deployment_id,
      originPeerId,
    });
    if (forgotten > 0) {
      await appendEvent(
        db,
        {
          kind: 'federation.deployment.share_forgotten',
          actor: caller.name,
          payload: { federated_deployment_id: args.federated_deployment_id, name: args.name, instances: forgotten },
        },
        now,
      );
    }
    return { forgotten };
  }

  /**
   * The state here of each share, in one query, in the order given; null where its group, module or
   * version does not exist here.
   */
  async reports(db: Db, shares: readonly ShareArgs[]): Promise<(ShareReport | null)[]> {
    return (await shareCounts(db, shares.map(keyOf))).map((c) => (c === null ? null : toReport(c)));
  }

  /**
   * Starts a rolling upgrade of `instanceIds` (claimed, running another version) to the share's version,
   * through this platform's own policy; the caller saw no rollout of the module active in the group.
   */
  private async upgrade(
    db: Db,
    caller: Caller,
    args: ShareArgs,
    ids: ShareIds,
    instanceIds: string[],
  ): Promise<string | null> {
    if (instanceIds.length === 0) return null;
    const plan = await this.rollouts.plan(
      caller,
      {
        group: { groupId: ids.groupId },
        module: { moduleId: ids.moduleId },
        targetVersionRef: ids.versionId,
        strategy: args.rollout.strategy,
        maxConsecutiveFailures: args.rollout.max_consecutive_failures,
        healthTimeoutSec: args.rollout.health_timeout_sec,
        maxFailurePct: null,
        minSample: null,
        soakSec: 0,
        instanceIds,
      },
      false,
      db,
    );
    return plan.rolloutId;
  }
}

function keyOf(args: ShareArgs) {
  return {
    federatedDeploymentId: args.federated_deployment_id,
    group: args.group,
    moduleName: args.module_name,
    version: args.version,
  };
}

function toReport(c: ShareCounts): ShareReport {
  return { assigned: c.assigned, running_healthy: c.runningHealthy, drifted: c.drifted, upgrading: c.upgrading };
}

async function resolveShare(db: Db, args: ShareArgs) {
  const group = await findGroup(db, { name: args.group });
  if (group === null) {
    throw new NotFoundError(`group ${args.group} does not exist on this platform`, {
      hint: 'create the group (an enrollment token for it) here first',
    });
  }
  const module = await findModule(db, { name: args.module_name });
  const version = module === null ? null : await findVersion(db, { moduleId: module.id, version: args.version });
  if (version === null) {
    throw new NotFoundError(`${args.module_name} ${args.version} is not published on this platform`, {
      hint: 'publish the version here first',
    });
  }
  if (!DEPLOYABLE_STATES.includes(version.lifecycleState)) {
    throw new ConflictError(
      `${version.moduleName} ${version.version} is ${version.lifecycleState} on this platform; only published, blessed or live versions can be assigned`,
      { hint: 'promote it here first' },
    );
  }
  return { group, version };
}
