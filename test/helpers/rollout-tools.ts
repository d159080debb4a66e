// Fixtures for the rolling-upgrade tool tests: a crew of MCP clients with distinct roles, groups of
// instances enrolled through the fleet service (no agents: planning needs none), module versions
// published through the tools, and row counts that show a refusal wrote nothing.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { sql } from 'kysely';
import { expect } from 'vitest';
import { ROLLING_UPGRADE_SKILL } from '../../src/domain/skills.js';
import { call, type TestPlatform } from './app.js';

export const digestOf = (c: string): string => `sha256:${c.repeat(64).slice(0, 64)}`;

/** MCP clients for every role the rolling-upgrade tools need. */
export interface Crew {
  admin: Client;
  /** otto: operator, plans. */
  otto: Client;
  /** alice and bob: approvers (either may also plan). */
  alice: Client;
  bob: Client;
  /** vera: viewer. */
  vera: Client;
}

export async function makeCrew(platform: TestPlatform): Promise<Crew> {
  return {
    admin: await platform.memoryClient(),
    otto: await platform.memoryClient(await platform.operator('otto', 'operator')),
    alice: await platform.memoryClient(await platform.operator('alice', 'approver')),
    bob: await platform.memoryClient(await platform.operator('bob', 'approver')),
    vera: await platform.memoryClient(await platform.operator('vera', 'viewer')),
  };
}

/** Creates `group` with `count` live instances; returns the group id and the instance ids. */
export async function enrollGroup(
  platform: TestPlatform,
  group: string,
  count: number,
): Promise<{ groupId: string; instanceIds: string[] }> {
  const { fleet, operators } = platform.app.services;
  const admin = await operators.callerByName('admin');
  const { token, enrollmentToken } = await fleet.createEnrollmentToken(admin, {
    group: { groupName: group },
    ttlSec: 3600,
    region: null,
    labels: {},
  });
  const instanceIds: string[] = [];
  for (let i = 0; i < count; i++) {
    instanceIds.push((await fleet.enroll(token, { name: `${group}-${i}` })).instanceId);
  }
  return { groupId: enrollmentToken.groupId, instanceIds };
}

/** Publishes a version through the tool (optionally as draft); returns its id. */
export async function publishVersion(
  client: Client,
  moduleName: string,
  version: string,
  digest: string,
  draft = false,
): Promise<{ versionId: string; moduleId: string }> {
  const res = await call(client, 'publish_module_version', {
    module_name: moduleName,
    version,
    digest,
    ...(draft ? { draft: true } : {}),
  });
  if (res.isError) throw new Error(`publish ${moduleName} ${version}: ${JSON.stringify(res.error)}`);
  const v = res.data.version as { id: string; module_id: string };
  return { versionId: v.id, moduleId: v.module_id };
}

/** Calls execute_skill with the rolling-upgrade skill. */
export function executeUpgrade(
  client: Client,
  inputs: Record<string, unknown>,
  dryRun?: boolean,
): ReturnType<typeof call> {
  return call(client, 'execute_skill', {
    skill: ROLLING_UPGRADE_SKILL,
    inputs,
    ...(dryRun === undefined ? {} : { dry_run: dryRun }),
  });
}

/** Plans a rollout and fails the test unless it is accepted; returns the plan. */
export async function planUpgrade(client: Client, inputs: Record<string, unknown>): Promise<Record<string, unknown>> {
  const res = await executeUpgrade(client, inputs);
  expect(res.error).toBeUndefined();
  return res.data;
}

const WRITTEN_TABLES = ['events', 'rollouts', 'rollout_batches', 'rollout_targets', 'approval_requests'] as const;

/** Row counts of every table a plan or decision writes. */
export async function writtenRows(platform: TestPlatform): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const table of WRITTEN_TABLES) {
    const r = await sql<{ n: string }>`SELECT count(*) AS n FROM ${sql.table(table)}`.execute(platform.store.db);
    out[table] = Number(r.rows[0]!.n);
  }
  return out;
}

/** Drives a planned rollout into circuit_open: approve, start batch 0, let its health window lapse. */
export async function tripBreaker(
  platform: TestPlatform,
  approver: Client,
  plan: Record<string, unknown>,
  healthTimeoutSec: number,
): Promise<string> {
  const approved = await call(approver, 'decide_approval', {
    approval_request_id: plan.approval_request_id,
    decision: 'approve',
  });
  expect(approved.data.rollout_state).toBe('running');
  await platform.app.reconciler.tickOnce();
  platform.clock.advance((healthTimeoutSec + 1) * 1000);
  await platform.app.reconciler.tickOnce();
  const rollout = await call(approver, 'get_rollout', { rollout_id: plan.rollout_id });
  const r = rollout.data.rollout as { state: string; approval_request_id: string };
  expect(r.state).toBe('circuit_open');
  return r.approval_request_id;
}
