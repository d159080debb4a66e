// Rolling-upgrade fixtures on a test platform: a group of agents that heartbeat through the store's own
// applyHeartbeats (no timers, no HTTP), module versions to roll between, operators to plan and approve,
// and readers for rollout events. Time moves only with the platform's ManualClock.
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { expect } from 'vitest';
import { ROLLING_UPGRADE_SKILL } from '../../src/domain/skills.js';
import type { Caller } from '../../src/domain/roles.js';
import type { ModuleVersion } from '../../src/domain/types.js';
import type { Plan } from '../../src/services/rollouts-service.js';
import { hashToken } from '../../src/services/tokens.js';
import { applyHeartbeats } from '../../src/store/heartbeat-repository.js';
import type { TestPlatform } from './app.js';

export const randomDigest = (): string => `sha256:${randomBytes(32).toString('hex')}`;

export interface SimAgent {
  name: string;
  instanceId: string;
  tokenHash: string;
  running: Record<string, string>;
}

/** Operators every rolling-upgrade test needs: an operator plans, two approvers decide. */
export interface Crew {
  admin: Caller;
  planner: Caller;
  alice: Caller;
  bob: Caller;
}

export async function makeCrew(platform: TestPlatform): Promise<Crew> {
  const ops = platform.app.services.operators;
  for (const [name, role] of [
    ['planner', 'operator'],
    ['alice', 'approver'],
    ['bob', 'approver'],
  ] as const) {
    await platform.operator(name, role);
  }
  return {
    admin: await ops.callerByName('admin'),
    planner: await ops.callerByName('planner'),
    alice: await ops.callerByName('alice'),
    bob: await ops.callerByName('bob'),
  };
}

/**
 * One group of `count` agents running `module` at `old`, with `target` and `broken` published too, and
 * the group's baseline set to `old`. Agents apply whatever they are told at once on `beat()`.
 */
export class FleetScenario {
  readonly agents: SimAgent[] = [];
  /** Instances that report health `failed` while they run the `broken` digest (default: all of them). */
  failing: ((instanceId: string) => boolean) | null = null;

  private constructor(
    private readonly platform: TestPlatform,
    private readonly crew: Crew,
    readonly group: string,
    readonly module: string,
    readonly old: ModuleVersion,
    readonly target: ModuleVersion,
    readonly broken: ModuleVersion,
  ) {}

  static async create(platform: TestPlatform, crew: Crew, name: string, count: number): Promise<FleetScenario> {
    const { modules, fleet } = platform.app.services;
    const module = `mod-${name}`;
    const publish = async (version: string): Promise<ModuleVersion> =>
      (await modules.publish(crew.admin, { moduleName: module, version, digest: randomDigest(), draft: false }))
        .version;
    const old = await publish('1.24.0');
    const target = await publish('1.26.0');
    const broken = await publish('1.26.0-broken');
    const scenario = new FleetScenario(platform, crew, `group-${name}`, module, old, target, broken);
    const { token } = await fleet.createEnrollmentToken(crew.admin, {
      group: { groupName: scenario.group },
      ttlSec: 3600,
      region: null,
      labels: {},
    });
    for (let i = 1; i <= count; i++) {
      const agentName = `${name}-${String(i).padStart(3, '0')}`;
      const enrolled = await fleet.enroll(token, { name: agentName, runningModuleDigests: { [module]: old.digest } });
      scenario.agents.push({
        name: agentName,
        instanceId: enrolled.instanceId,
        tokenHash: hashToken(enrolled.agentToken),
        running: { [module]: old.digest },
      });
    }
    await fleet.assign(crew.admin, {
      group: { groupName: scenario.group },
      module: { moduleName: module },
      versionRef: old.id,
    });
    await scenario.beat();
    return scenario;
  }

  agent(instanceId: string): SimAgent {
    const found = this.agents.find((a) => a.instanceId === instanceId);
    if (found === undefined) throw new Error(`no agent for instance ${instanceId}`);
    return found;
  }

  private health(a: SimAgent): 'ok' | 'failed' {
    const runsBroken = a.running[this.module] === this.broken.digest;
    return runsBroken && (this.failing === null || this.failing(a.instanceId)) ? 'failed' : 'ok';
  }

  /**
   * Every agent (or those given) heartbeats what it runs, applies the desired versions the platform
   * answers, and heartbeats again if that changed anything — all at the clock's current time.
   */
  async beat(instanceIds?: readonly string[]): Promise<void> {
    const agents = instanceIds === undefined ? this.agents : instanceIds.map((id) => this.agent(id));
    const send = () =>
      applyHeartbeats(
        this.platform.store.db,
        agents.map((a) => ({
          tokenHash: a.tokenHash,
          runningModuleDigests: { ...a.running },
          health: this.health(a),
          status: 'running',
        })),
        this.platform.clock.now(),
      );
    const acks = await send();
    let changed = false;
    for (const a of agents) {
      for (const d of acks.get(a.tokenHash)?.desired ?? []) {
        if (a.running[d.module_name] !== d.digest) {
          a.running[d.module_name] = d.digest;
          changed = true;
        }
      }
    }
    if (changed) await send();
  }

  /** Plans the tutorial's upgrade of this group (as `planner` unless told), with `inputs` on top. */
  async plan(inputs: Record<string, unknown> = {}, caller: Caller = this.crew.planner): Promise<Plan> {
    return this.platform.app.services.skills.execute(
      caller,
      ROLLING_UPGRADE_SKILL,
      {
        template_id: this.group,
        module_name: this.module,
        target_version_id: this.target.id,
        batch_pct: 20,
        max_consecutive_failures: 2,
        health_timeout_sec: 300,
        ...inputs,
      },
      false,
    );
  }

  /** Plans and has alice approve; returns the plan. */
  async planApproved(inputs: Record<string, unknown> = {}): Promise<Plan> {
    const plan = await this.plan(inputs);
    await this.platform.app.services.approvals.decide(this.crew.alice, {
      id: plan.approvalRequestId!,
      decision: 'approve',
    });
    return plan;
  }
}

/** One reconciler tick; fails the test if any step failed. */
export async function tick(platform: TestPlatform): Promise<void> {
  expect((await platform.app.reconciler.tickOnce()).failed).toEqual([]);
}

export interface EventView {
  kind: string;
  actor: string;
  payload: Record<string, unknown>;
}

/** Events of one rollout, oldest first, optionally only those of one kind (`module.upgrade.` may be left off). */
export async function rolloutEvents(platform: TestPlatform, rolloutId: string, kind?: string): Promise<EventView[]> {
  const full = kind === undefined ? undefined : kind.includes('.') ? kind : `module.upgrade.${kind}`;
  const rows = await sql<EventView>`
    SELECT kind, actor, payload FROM events
    WHERE payload ->> 'rollout_id' = ${rolloutId} ${full === undefined ? sql`` : sql`AND kind = ${full}`}
    ORDER BY id`.execute(platform.store.db);
  return rows.rows;
}

/** The version id each instance should run of `moduleName` (instance override, else group baseline). */
export async function effectiveVersions(
  platform: TestPlatform,
  instanceIds: readonly string[],
  moduleName: string,
): Promise<Map<string, string>> {
  const rows = await platform.store.db
    .selectFrom('instance_effective_versions')
    .select(['instance_id', 'version_id'])
    .where('instance_id', 'in', instanceIds)
    .where('module_name', '=', moduleName)
    .execute();
  return new Map(rows.map((r) => [r.instance_id, r.version_id]));
}
