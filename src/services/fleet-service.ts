// The fleet: groups and their enrollment tokens, agent enrollment, instances, desired versions, drift,
// termination and the stale sweep.
import { DEPLOYABLE_STATES } from '../domain/lifecycle.js';
import {
  STALE_AFTER_MISSED,
  type DesiredVersion,
  type EnrollmentToken,
  type Group,
  type GroupRef,
  type Instance,
  type InstanceStatus,
} from '../domain/fleet.js';
import { isUuid } from '../domain/names.js';
import { decodeIdCursor, toPage, type Page } from '../domain/paging.js';
import type { Caller } from '../domain/roles.js';
import type { ModuleVersion } from '../domain/types.js';
import { ConflictError, InvalidInputError, NotFoundError, UnauthorizedError } from '../errors.js';
import { appendEvent } from '../store/events-repository.js';
import type { Db } from '../store/executor.js';
import {
  findEnrollmentToken,
  findGroup,
  findUsableEnrollmentToken,
  insertEnrollmentToken,
  revokeEnrollmentToken,
  upsertGroup,
} from '../store/groups-repository.js';
import { sweepStaleInstances } from '../store/heartbeat-repository.js';
import {
  desiredVersionsFor,
  enrollInstance,
  findInstance,
  findInstanceIdByAgentToken,
  groupDrift,
  listInstances,
  setGroupDesiredVersion,
  setInstanceDesiredVersions,
  terminateInstance,
  type DriftRow,
} from '../store/instances-repository.js';
import type { ServiceDeps } from './context.js';
import type { ModuleRef, ModulesService } from './modules-service.js';
import { requireRole } from './operators-service.js';
import { hashToken, newToken } from './tokens.js';

export const DEFAULT_ENROLLMENT_TTL_SEC = 24 * 3600;

export interface InstanceDetail extends Instance {
  desired: DesiredVersion[];
}

export interface EnrollResult {
  instanceId: string;
  /** Shown once to the agent; only its hash is stored. */
  agentToken: string;
  group: Group;
  created: boolean;
}

export class FleetService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly modules: ModulesService,
    readonly heartbeatIntervalMs: number,
  ) {}

  /** A group by id or name; `not_found` names it as given. */
  async resolveGroup(ref: GroupRef, db: Db = this.deps.db): Promise<Group> {
    const group =
      'groupId' in ref
        ? isUuid(ref.groupId)
          ? await findGroup(db, { id: ref.groupId })
          : await findGroup(db, { name: ref.groupId })
        : await findGroup(db, { name: ref.groupName });
    if (group === null) {
      const given = 'groupId' in ref ? `template_id ${ref.groupId}` : `group ${ref.groupName}`;
      throw new NotFoundError(`no ${given}`, {
        hint: 'groups are created by their first enrollment token (create_enrollment_token with group)',
      });
    }
    return group;
  }

  /** Issues a reusable enrollment token for a group, creating the group (by name) if it is new. */
  async createEnrollmentToken(
    caller: Caller,
    input: { group: GroupRef; ttlSec: number; region: string | null; labels: Record<string, string> },
  ): Promise<{ token: string; enrollmentToken: EnrollmentToken; groupCreated: boolean }> {
    requireRole(caller, 'operator', 'creating an enrollment token');
    return this.deps.db.transaction().execute(async (trx) => {
      const now = this.deps.clock.now();
      let group: Group;
      let groupCreated = false;
      if ('groupName' in input.group) {
        ({ group, created: groupCreated } = await upsertGroup(trx, input.group.groupName, caller.name, now));
      } else {
        group = await this.resolveGroup(input.group, trx);
      }
      const token = newToken('fle');
      const id = await insertEnrollmentToken(trx, {
        groupId: group.id,
        tokenHash: hashToken(token),
        region: input.region,
        labels: input.labels,
        createdBy: caller.name,
        createdAt: now,
        expiresAt: new Date(now.getTime() + input.ttlSec * 1000),
      });
      if (groupCreated) {
        await appendEvent(
          trx,
          { kind: 'group.created', actor: caller.name, payload: { group_id: group.id, name: group.name } },
          now,
        );
      }
      await appendEvent(
        trx,
        {
          kind: 'enrollment_token.created',
          actor: caller.name,
          payload: { enrollment_token_id: id, group_id: group.id, group: group.name, ttl_sec: input.ttlSec },
        },
        now,
      );
      const enrollmentToken = (await findEnrollmentToken(trx, id))!;
      return { token, enrollmentToken, groupCreated };
    });
  }

  async revokeEnrollmentToken(caller: Caller, id: string): Promise<EnrollmentToken> {
    requireRole(caller, 'operator', 'revoking an enrollment token');
    if (!isUuid(id)) throw new NotFoundError(`no enrollment token ${id}`);
    return this.deps.db.transaction().execute(async (trx) => {
      const now = this.deps.clock.now();
      const revoked = await revokeEnrollmentToken(trx, id, now);
      if (revoked === null) {
        const existing = await findEnrollmentToken(trx, id);
        throw existing === null
          ? new NotFoundError(`no enrollment token ${id}`)
          : new ConflictError(`enrollment token ${id} is already revoked`);
      }
      await appendEvent(
        trx,
        {
          kind: 'enrollment_token.revoked',
          actor: caller.name,
          payload: { enrollment_token_id: id, group_id: revoked.groupId },
        },
        now,
      );
      return revoked;
    });
  }

  /** An agent enrolls with an enrollment token and receives its own agent token. */
  async enroll(
    enrollmentToken: string,
    input: {
      name: string;
      region?: string;
      labels?: Record<string, string>;
      runningModuleDigests?: Record<string, string>;
    },
  ): Promise<EnrollResult> {
    return this.deps.db.transaction().execute(async (trx) => {
      const now = this.deps.clock.now();
      const token = await findUsableEnrollmentToken(trx, hashToken(enrollmentToken), now);
      if (token === null) {
        throw new UnauthorizedError('enrollment token is unknown, expired or revoked', {
          hint: 'ask an operator for a fresh one (create_enrollment_token)',
        });
      }
      const agentToken = newToken('fla');
      const { id, created } = await enrollInstance(trx, {
        groupId: token.groupId,
        name: input.name,
        region: input.region ?? token.region,
        labels: { ...token.labels, ...(input.labels ?? {}) },
        agentTokenHash: hashToken(agentToken),
        enrollmentTokenId: token.id,
        runningModuleDigests: input.runningModuleDigests ?? {},
        at: now,
      });
      await appendEvent(
        trx,
        {
          kind: created ? 'agent.enrolled' : 'agent.reenrolled',
          actor: `agent:${input.name}`,
          payload: {
            instance_id: id,
            name: input.name,
            group_id: token.groupId,
            group: token.groupName,
            enrollment_token_id: token.id,
          },
        },
        now,
      );
      return {
        instanceId: id,
        agentToken,
        created,
        group: { id: token.groupId, name: token.groupName, createdBy: '', createdAt: token.createdAt },
      };
    });
  }

  async listInstances(opts: {
    group?: GroupRef;
    status?: InstanceStatus;
    module?: ModuleRef;
    version?: string;
    limit: number;
    cursor?: string;
  }): Promise<Page<Instance>> {
    const group = opts.group === undefined ? undefined : await this.resolveGroup(opts.group);
    let running: { moduleName: string; digest: string } | undefined;
    if (opts.version !== undefined) {
      const version = await this.modules.resolveVersion(opts.version, opts.module);
      running = { moduleName: version.moduleName, digest: version.digest };
    } else if (opts.module !== undefined) {
      throw new InvalidInputError('a module filter needs a version too', { hint: 'pass version with module_name' });
    }
    const afterId = opts.cursor === undefined ? undefined : decodeIdCursor(opts.cursor);
    const rows = await listInstances(this.deps.db, {
      limit: opts.limit,
      ...(group === undefined ? {} : { groupId: group.id }),
      ...(opts.status === undefined ? {} : { status: opts.status }),
      ...(running === undefined ? {} : { running }),
      ...(afterId === undefined ? {} : { afterId }),
    });
    return toPage(rows, opts.limit, (i) => ({ id: i.id }));
  }

  async getInstance(id: string): Promise<InstanceDetail> {
    const instance = isUuid(id) ? await findInstance(this.deps.db, id) : null;
    if (instance === null) throw new NotFoundError(`no instance ${id}`, { hint: 'list_instances shows the fleet' });
    const desired = (await desiredVersionsFor(this.deps.db, [id])).get(id) ?? [];
    return { ...instance, desired };
  }

  async terminate(caller: Caller, id: string): Promise<InstanceDetail> {
    requireRole(caller, 'operator', 'terminating an instance');
    const before = await this.getInstance(id);
    await this.deps.db.transaction().execute(async (trx) => {
      const now = this.deps.clock.now();
      const done = await terminateInstance(trx, id, caller.name, now);
      if (done === null) throw new ConflictError(`instance ${before.name} (${id}) is already terminated`);
      await appendEvent(
        trx,
        {
          kind: 'instance.terminated',
          actor: caller.name,
          payload: { instance_id: id, name: before.name, group_id: before.groupId },
        },
        now,
      );
    });
    return this.getInstance(id);
  }

  async drift(
    group: GroupRef,
    limit: number,
  ): Promise<{ group: Group; instanceCount: number; driftedCount: number; rows: DriftRow[] }> {
    const g = await this.resolveGroup(group);
    return { group: g, ...(await groupDrift(this.deps.db, g.id, limit)) };
  }

  /**
   * Sets the desired version of a module for a whole group (its baseline) or for some of its instances.
   * The version must be published, blessed or live.
   */
  async assign(
    caller: Caller,
    input: { group: GroupRef; module: ModuleRef; versionRef: string; instanceIds?: string[] },
  ): Promise<{ group: Group; versionId: string; version: string; moduleName: string; instanceCount: number | null }> {
    requireRole(caller, 'operator', 'assigning a module version');
    const group = await this.resolveGroup(input.group);
    const version = await this.modules.resolveVersion(input.versionRef, input.module);
    if (!DEPLOYABLE_STATES.includes(version.lifecycleState)) {
      throw new ConflictError(
        `${version.moduleName} ${version.version} is ${version.lifecycleState}; only published, blessed or live versions can be assigned`,
        {
          hint:
            version.lifecycleState === 'archived'
              ? 'restore it first (promote_module_version to published, admin)'
              : 'promote it first',
        },
      );
    }
    const bad = input.instanceIds?.find((id) => !isUuid(id));
    if (bad !== undefined) throw new InvalidInputError(`instance_ids: ${bad} is not an instance id`);
    return this.deps.db.transaction().execute(async (trx) => {
      const now = this.deps.clock.now();
      let instanceCount: number | null = null;
      if (input.instanceIds === undefined) {
        await setGroupDesiredVersion(trx, {
          groupId: group.id,
          moduleId: version.moduleId,
          versionId: version.id,
          by: caller.name,
          at: now,
        });
      } else {
        instanceCount = await setInstanceDesiredVersions(trx, {
          groupId: group.id,
          instanceIds: input.instanceIds,
          moduleId: version.moduleId,
          versionId: version.id,
          by: caller.name,
          at: now,
        });
        if (instanceCount !== new Set(input.instanceIds).size) {
          throw new InvalidInputError(
            `only ${instanceCount} of the ${input.instanceIds.length} instance_ids are live instances of group ${group.name}`,
            {
              hint: 'list_instances with this group shows its live instances; nothing was changed',
            },
          );
        }
      }
      await appendEvent(
        trx,
        {
          kind: 'module.version.assigned',
          actor: caller.name,
          payload: {
            group_id: group.id,
            group: group.name,
            module_id: version.moduleId,
            module_name: version.moduleName,
            version_id: version.id,
            version: version.version,
            scope: input.instanceIds === undefined ? 'group' : 'instances',
            instance_count: instanceCount,
          },
        },
        now,
      );
      return { group, versionId: version.id, version: version.version, moduleName: version.moduleName, instanceCount };
    });
  }

  /** An agent looks up a published version's digest (the simulator uses it to report what it runs). */
  async agentLookupVersion(
    agentToken: string,
    moduleName: string,
    versionRef: string,
  ): Promise<{ instanceId: string; version: ModuleVersion }> {
    const instanceId = await findInstanceIdByAgentToken(this.deps.db, hashToken(agentToken));
    if (instanceId === null) throw new UnauthorizedError('agent token is unknown or revoked', { hint: 'enroll again' });
    return { instanceId, version: await this.modules.resolveVersion(versionRef, { moduleName }) };
  }

  /** The reconciler's stale sweep: one statement, whatever the fleet size. */
  async sweepStale(now: Date): Promise<number> {
    return sweepStaleInstances(
      this.deps.db,
      new Date(now.getTime() - STALE_AFTER_MISSED * this.heartbeatIntervalMs),
      now,
    );
  }
}
