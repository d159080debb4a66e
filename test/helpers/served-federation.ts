// Federated platforms as real `flotilla serve` children on real clocks, each with simulated agents over
// HTTP, for tests that kill and restart a platform process: throwaway stores, peering, tool calls, a
// fleet on nginx 1.24.0 with 1.26.0 published, and cleanup of every child, client and simulator started.
import { AgentSimulator } from '../../src/agents/simulator.js';
import type { StoreKind } from '../../src/store/db.js';
import {
  ChildSet,
  makeTempDir,
  processDatabases,
  startServed,
  type ProcessDatabases,
  type ServedPlatform,
  type TempDir,
} from './cli.js';
import { waitFor as waitForCondition } from './fleet.js';
import { silentLogger } from './store.js';

/** How long a served test waits for any one condition (processes on real clocks, a busy machine). */
export const SERVED_DEADLINE_MS = 120_000;

/** A served platform and the simulated agents of its `web` group, once `prepareFleet` started them. */
export type ServedSite = ServedPlatform & { sim: AgentSimulator | null };

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tool results read loosely, as an assistant does
export type Obj = Record<string, any>;

export const servedDigest = (c: string): string => `sha256:${c.repeat(64)}`;

/** Waits for `check` with the served deadline. */
export function waitForServed<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs = SERVED_DEADLINE_MS,
): Promise<T> {
  return waitForCondition(what, check, timeoutMs);
}

/** The platforms of one test file: create in beforeAll, `stopAll` after each test, `dispose` after all. */
export class ServedFederation {
  readonly children = new ChildSet();
  private readonly tmp: TempDir;
  private readonly databases: ProcessDatabases;
  private readonly sites: ServedSite[] = [];

  constructor(kind: StoreKind, prefix: string) {
    this.tmp = makeTempDir(prefix);
    this.databases = processDatabases(kind, this.tmp);
  }

  /** Serves platform `name` on a fresh store, ticking every 100 ms, with `extra` serve arguments. */
  async start(name: string, region: string, extra: string[] = []): Promise<ServedSite> {
    const served = await startServed(this.children, name, [
      ...['--region', region, '--database-url', await this.databases.url(name)],
      ...['--tick-ms', '100', '--agent-heartbeat-ms', '200', '--peer-heartbeat-ms', '300', '--log-level', 'warn'],
      ...extra,
    ]);
    const site: ServedSite = Object.assign(served, { sim: null });
    this.sites.push(site);
    return site;
  }

  /** Stops every simulator, client and child started so far. */
  async stopAll(): Promise<void> {
    for (const s of this.sites.splice(0)) {
      await s.sim?.stop();
      await s.client.close().catch(() => undefined);
    }
    await this.children.killAll();
  }

  /** Drops the stores (stop everything first). */
  async dispose(): Promise<void> {
    await this.databases.dropAll();
    this.tmp.remove();
  }
}

/** Calls a tool as the platform's bootstrap admin; throws with the platform's answer on an error. */
export async function tool(p: ServedPlatform, name: string, args: Record<string, unknown> = {}): Promise<Obj> {
  const res = await p.client.callTool(name, args);
  if (res.isError) throw new Error(`${p.name} ${name}: ${res.text}`);
  return res.structured as Obj;
}

/** `parent` proposes an autonomous peering and `target` accepts it: both sides active. */
export async function federate(parent: ServedPlatform, target: ServedPlatform): Promise<void> {
  const proposed = await tool(parent, 'propose_federation_peer', { name: target.name, spawn_mode: 'autonomous_peer' });
  await tool(target, 'accept_federation_peer', { parent_url: parent.url, acceptance_token: proposed.acceptance_token });
}

/**
 * Binds, on `on`, the operator `remote` of its peer `peerName` to on's operator `local` (the same name
 * unless given): what the peer needs before its calls may act as an operator there.
 */
export async function bindServed(on: ServedPlatform, peerName: string, remote: string, local = remote): Promise<void> {
  await tool(on, 'create_peer_identity_binding', {
    federation_peer_id: peerName,
    remote_operator: remote,
    local_operator: local,
  });
}

/**
 * nginx 1.24.0 and 1.26.0 published, rolling upgrades automatic (no four-eyes), and `agents` simulated
 * agents in group `web` running 1.24.0, enrolled before this returns.
 */
export async function prepareFleet(p: ServedSite, agents: number): Promise<void> {
  await tool(p, 'publish_module_version', { module_name: 'nginx', version: '1.24.0', digest: servedDigest('a') });
  await tool(p, 'publish_module_version', { module_name: 'nginx', version: '1.26.0', digest: servedDigest('b') });
  await tool(p, 'set_intervention_policy', { action: 'system.fleet_rolling_upgrade', mode: 'auto', four_eyes: false });
  const enroll = await tool(p, 'create_enrollment_token', { group: 'web' });
  await tool(p, 'assign_module_version', { group: 'web', module_name: 'nginx', version_id: '1.24.0' });
  p.sim = new AgentSimulator({
    url: p.url,
    enrollToken: enroll.token as string,
    count: agents,
    modules: { nginx: '1.24.0' },
    failVersions: new Set(),
    applyDelayMs: 100,
    intervalMs: 200,
    namePrefix: `${p.name}-web`,
    logger: silentLogger,
  });
  p.sim.start();
  await p.sim.waitEnrolled(60_000);
}

/** The leg of `peer` in a get_federated_rollout view. */
export function legOf(view: Obj, peer: string): Obj {
  const leg = (view.legs as Obj[]).find((l) => l.peer_name === peer);
  if (leg === undefined) throw new Error(`no leg on ${peer} in ${JSON.stringify(view.legs)}`);
  return leg;
}

/** Every page of a paged list tool, `key` being the list's field (events, entries, calls, ...). */
export async function listAll(
  p: ServedPlatform,
  name: string,
  key: string,
  args: Record<string, unknown> = {},
): Promise<Obj[]> {
  const out: Obj[] = [];
  let cursor: string | null = null;
  do {
    const page = await tool(p, name, { ...args, limit: 500, ...(cursor === null ? {} : { cursor }) });
    out.push(...(page[key] as Obj[]));
    cursor = (page.next_cursor as string | null) ?? null;
  } while (cursor !== null);
  return out;
}
