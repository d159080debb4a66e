// A federated deployment's share, on the platform that runs it: "N instances of group G run module M at
// version V". Applying a share assigns V at once to instances that have no version of M, moves instances
// running another version through an ordinary rolling upgrade here (this platform's own intervention
// policy applies: four-eyes parks it for a local approver), and gives back what a smaller or moved share
// no longer needs. Every query runs on the caller's `db` (a peer call's inbox transaction on PGlite).
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
  instancesWithout,
  recordAssignments,
  releaseAssignments,
  shareCounts,
} from '../store/federated-deployments-repository.js';
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
    const key = {
      federatedDeploymentId: args.federated_deployment_id,
      groupId: group.id,
      moduleId: version.moduleId,
      moduleName: version.moduleName,
      versionId: version.id,
    };
    const before = await shareCounts(db, { ...key, digest: version.digest });
    const missing = args.replicas - before.assigned - before.upgrading;
    const picked = await instancesWithout(db, { ...key, limit: missing });
    const fresh = picked.filter((p) => p.fresh).map((p) => p.id);
    let assignedNow = 0;
    if (fresh.length > 0) {
      assignedNow = await setInstanceDesiredVersions(db, {
        groupId: group.id,
        instanceIds: fresh,
        moduleId: version.moduleId,
        versionId: version.id,
        by: caller.name,
        at: now,
      });
      await recordAssignments(db, { ...key, originPeerId, instanceIds: fresh, at: now });
    }
    const rolloutId = await this.upgrade(
      db,
      caller,
      args,
      { groupId: group.id, moduleId: version.moduleId, versionId: version.id },
      picked.filter((p) => !p.fresh).map((p) => p.id),
      originPeerId,
      now,
    );
    const released = await releaseAssignments(db, {
      ...key,
      excess: Math.max(0, before.assigned - args.replicas),
    });
    if (assignedNow > 0 || released.length > 0) {
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
    const report = (await this.report(db, args))!;
    return { ...report, assigned_now: assignedNow, released_now: released.length, rollout_id: rolloutId };
  }

  /** The share's state here; null when its group, module or version does not exist here. */
  async report(db: Db, args: ShareArgs): Promise<ShareReport | null> {
    const group = await findGroup(db, { name: args.group });
    const module = await findModule(db, { name: args.module_name });
    const version = module === null ? null : await findVersion(db, { moduleId: module.id, version: args.version });
    if (group === null || version === null) return null;
    const c = await shareCounts(db, {
      federatedDeploymentId: args.federated_deployment_id,
      groupId: group.id,
      moduleId: version.moduleId,
      moduleName: version.moduleName,
      versionId: version.id,
      digest: version.digest,
    });
    return { assigned: c.assigned, running_healthy: c.runningHealthy, drifted: c.drifted, upgrading: c.upgrading };
  }

  /**
   * Starts a rolling upgrade of `instanceIds` (running another version) to the share's version, unless a
   * rollout of the module is already active in the group: then they wait for the next repair.
   */
  private async upgrade(
    db: Db,
    caller: Caller,
    args: ShareArgs,
    ids: { groupId: string; moduleId: string; versionId: string },
    instanceIds: string[],
    originPeerId: string | null,
    now: Date,
  ): Promise<string | null> {
    if (instanceIds.length === 0) return null;
    if ((await findActiveRollout(db, ids.groupId, ids.moduleId)) !== null) return null;
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
    await recordAssignments(db, {
      federatedDeploymentId: args.federated_deployment_id,
      originPeerId,
      moduleId: ids.moduleId,
      versionId: ids.versionId,
      instanceIds,
      at: now,
    });
    return plan.rolloutId;
  }
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
