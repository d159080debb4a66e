// npm run demo:federated: a synchronized federated rollout over three platforms in one process, on the
// embedded store (PGlite in temporary folders), real clocks and fast ticks. The origin `hq` proposes
// peerings to `us` and `ap`, which accept; each platform publishes nginx 1.24.0 and 1.26.0 and runs 20
// simulated agents in group `web`. hq and us run rollouts automatically; ap keeps four-eyes, so its leg
// parks in pending_approval (and the others hold at the barrier) until bob approves it there. Everything
// goes through MCP over HTTP, the way an assistant would drive it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { AgentSimulator } from '../src/agents/simulator.js';
import { createApp, type App } from '../src/app.js';
import { connectHttpClient, type FlotillaClient } from '../src/mcp/client.js';

// Tool results are read loosely here, the way an assistant reads them.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;

const FLEET = 20;
const TICK_MS = 250;
const AGENT_HEARTBEAT_MS = 500;
const PEER_HEARTBEAT_MS = 1000;
/** The whole demo must end within this, or it fails (and still cleans up). */
const DEADLINE_MS = 240_000;
const digest = (c: string): string => `sha256:${c.repeat(64)}`;
const step = (title: string): void => console.log(`\n── ${title}`);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const logger = pino({ level: 'warn' }, pino.destination(2));

interface Site {
  name: string;
  region: string;
  dir: string;
  app: App | null;
  url: string;
  admin: FlotillaClient | null;
  sim: AgentSimulator | null;
  extraClients: FlotillaClient[];
}

const sites: Site[] = [
  { name: 'hq', region: 'eu-west-1' },
  { name: 'us', region: 'us-east-1' },
  { name: 'ap', region: 'ap-south-1' },
].map((s) => ({
  ...s,
  dir: fs.mkdtempSync(path.join(os.tmpdir(), `flotilla-demo-fed-${s.name}-`)),
  app: null,
  url: '',
  admin: null,
  sim: null,
  extraClients: [],
}));
const site = (name: string): Site => sites.find((s) => s.name === name)!;
const admin = (s: Site): FlotillaClient => s.admin!;

async function tool(client: FlotillaClient, name: string, args: Record<string, unknown> = {}): Promise<Obj> {
  const r = await client.callTool(name, args);
  if (r.isError) throw new Error(`${name} failed: ${r.text.split('\n')[0]}`);
  return r.structured as Obj;
}

let started = Date.now();
const elapsed = (): string => `${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s`;

// ---- the per-peer progress view ------------------------------------------------------------------

function contactOf(leg: Obj): string {
  if (leg.federation_peer_id === null) return 'local';
  if (leg.last_contact_at === null) return leg.lost_contact === true ? 'LOST, never answered' : 'not yet';
  const ago = Math.max(0, (Date.now() - Date.parse(leg.last_contact_at as string)) / 1000);
  return `${leg.lost_contact === true ? 'LOST, last ' : ''}${ago.toFixed(1)}s ago`;
}

function legLine(leg: Obj): string {
  const count = leg.batch_count as number | null;
  const batch =
    count === null ? 'batch -/-' : `batch ${Math.max(0, Math.min(count, (leg.current_batch as number) + 1))}/${count}`;
  return [
    String(leg.peer_name).padEnd(3),
    String(leg.state).padEnd(16),
    `${batch} (${leg.completed_batches} done)`.padEnd(20),
    `healthy ${String(leg.healthy_total).padStart(2)} failed ${leg.failed_total}`,
    `waiting_for: ${leg.waiting_for ?? '—'}`,
  ].join('  ');
}

/** Prints the view when something other than the contact times changed; answers the view. */
let lastShown = '';
function show(v: Obj, force = false): void {
  const head = `federated rollout ${v.state} · ${v.coordination} · barrier batch ${v.barrier_batch ?? '—'}`;
  const lines = (v.legs as Obj[]).map(legLine);
  const key = [head, ...lines].join('\n');
  if (key === lastShown && !force) return;
  lastShown = key;
  console.log(`  [${elapsed()}] ${head}`);
  for (const [i, leg] of (v.legs as Obj[]).entries()) {
    console.log(`      ${lines[i]}  ·  last contact ${contactOf(leg)}`);
  }
}

async function view(id: string): Promise<Obj> {
  return (await tool(admin(site('hq')), 'get_federated_rollout', { federated_rollout_id: id })).federated_rollout;
}

/** Polls get_federated_rollout, printing the per-peer view as it changes, until `done` or the deadline. */
async function watch(id: string, done: (v: Obj) => boolean, what: string, timeoutMs: number): Promise<Obj> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await view(id);
    show(v);
    if (done(v)) return v;
    if (['failed', 'aborted', 'rolled_back'].includes(v.state as string)) {
      show(v, true);
      throw new Error(`the federated rollout ended ${v.state} while waiting for ${what}: ${v.reason ?? ''}`);
    }
    if (Date.now() > deadline) {
      show(v, true);
      throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
    }
    await sleep(300);
  }
}

// ---- the demo ----------------------------------------------------------------------------------

async function startSite(s: Site): Promise<void> {
  const t = Date.now();
  s.app = await createApp(
    {
      host: '127.0.0.1',
      port: 0,
      name: s.name,
      region: s.region,
      tickMs: TICK_MS,
      agentHeartbeatMs: AGENT_HEARTBEAT_MS,
      peerHeartbeatMs: PEER_HEARTBEAT_MS,
      databaseUrl: `pglite://${s.dir}/data`,
      allowedOrigins: [],
    },
    { logger },
  );
  if (s.app.bootstrap === null) throw new Error(`${s.name}: a fresh store must bootstrap an admin`);
  s.url = s.app.http!.url;
  s.admin = await connectHttpClient(s.url, s.app.bootstrap.token);
  const info = await tool(s.admin, 'get_platform_info');
  console.log(
    `  ${s.name} (${s.region}) at ${s.url}/mcp, store ${info.store_kind}, ` +
      `bootstrap admin "${s.app.bootstrap.operator.name}" (${((Date.now() - t) / 1000).toFixed(1)}s)`,
  );
}

async function prepareFleet(s: Site): Promise<void> {
  const a = admin(s);
  for (const [version, c] of [
    ['1.24.0', 'a'],
    ['1.26.0', 'b'],
  ] as const) {
    await tool(a, 'publish_module_version', { module_name: 'nginx', version, digest: digest(c) });
  }
  const enroll = await tool(a, 'create_enrollment_token', { group: 'web', region: s.region });
  await tool(a, 'assign_module_version', { group: 'web', module_name: 'nginx', version_id: '1.24.0' });
  s.sim = new AgentSimulator({
    url: s.url,
    enrollToken: enroll.token as string,
    count: FLEET,
    modules: { nginx: '1.24.0' },
    failVersions: new Set(),
    applyDelayMs: 300,
    intervalMs: AGENT_HEARTBEAT_MS,
    namePrefix: `${s.name}-web`,
    region: s.region,
    logger,
  });
  s.sim.start();
}

async function main(): Promise<void> {
  started = Date.now();
  step('Start three platforms on the embedded store (one after another), ticking every 250 ms');
  for (const s of sites) await startSite(s);
  const hq = site('hq');
  const us = site('us');
  const ap = site('ap');

  step('Federate: hq proposes us and ap (autonomous peers); each accepts over MCP');
  for (const target of [us, ap]) {
    const proposed = await tool(admin(hq), 'propose_federation_peer', {
      name: target.name,
      spawn_mode: 'autonomous_peer',
      remote_platform_url: target.url,
    });
    const accepted = await tool(admin(target), 'accept_federation_peer', {
      parent_url: hq.url,
      acceptance_token: proposed.acceptance_token,
    });
    console.log(
      `  hq → ${target.name}: proposed (token ${String(proposed.acceptance_token).slice(0, 8)}…), ` +
        `${target.name} accepted: its peer ${accepted.federation_peer.name} is ${accepted.federation_peer.status}`,
    );
  }
  const peers = (await tool(admin(hq), 'list_federation_peers')).peers as Obj[];
  for (const p of peers)
    console.log(
      `  hq sees ${p.name}: ${p.status} (${p.spawn_mode}, region ${p.region ?? '?'}, ${p.remote_platform_url ?? ''})`,
    );
  if (!['us', 'ap'].every((n) => peers.some((p) => p.name === n && p.status === 'active'))) {
    throw new Error('hq does not show both peers active');
  }

  step('Bind identities: us and ap let hq’s admin act there as their own admin (nothing is bound by default)');
  for (const target of [us, ap]) {
    const { binding } = await tool(admin(target), 'create_peer_identity_binding', {
      federation_peer_id: 'hq',
      remote_operator: 'admin',
      local_operator: 'admin',
      reason: 'hq coordinates federated rollouts here',
    });
    console.log(`  ${target.name}: hq's ${binding.remote_operator} acts here as ${binding.local_operator}`);
  }

  step(`On each platform: nginx 1.24.0 and 1.26.0 (same digests), group web, ${FLEET} simulated agents on 1.24.0`);
  for (const s of sites) await prepareFleet(s);
  for (const s of sites) {
    await s.sim!.waitEnrolled(60_000);
    console.log(`  ${s.name}: ${s.sim!.stats.enrolled} agents enrolled in web, running nginx 1.24.0`);
  }

  step('Intervention policies: auto on hq and us; ap keeps four-eyes approval');
  for (const s of [hq, us]) {
    const p = await tool(admin(s), 'set_intervention_policy', {
      action: 'system.fleet_rolling_upgrade',
      mode: 'auto',
      four_eyes: false,
    });
    console.log(`  ${s.name}: ${p.policy.action} = ${p.policy.mode}`);
  }
  const apPolicies = (await tool(admin(ap), 'list_intervention_policies')).policies as Obj[];
  const apPolicy = apPolicies.find((p) => p.action === 'system.fleet_rolling_upgrade');
  console.log(
    `  ap: system.fleet_rolling_upgrade = ${apPolicy?.mode ?? 'require_approval'}, four_eyes ${apPolicy?.four_eyes ?? true}`,
  );
  const bobToken = (await tool(admin(ap), 'create_operator', { name: 'bob', role: 'approver' })).token as string;
  const bob = await connectHttpClient(ap.url, bobToken);
  ap.extraClients.push(bob);
  console.log('  ap: operator bob (approver) created');

  step('Create a synchronized federated rollout on hq: nginx 1.26.0 to web on hq, us and ap, 25 % batches');
  const created = (
    await tool(admin(hq), 'create_federated_rollout', {
      module_name: 'nginx',
      target_version: '1.26.0',
      peers: ['us', 'ap'],
      include_local: true,
      group: 'web',
      strategy: { type: 'batch', batch_pct: 25 },
      coordination: 'synchronized',
      max_consecutive_failures: 2,
      health_timeout_sec: 30,
    })
  ).federated_rollout;
  const id = created.id as string;
  console.log(`  federated rollout ${id}: ${created.state}, ${created.coordination}, legs ${created.legs.length}`);
  const rolloutStarted = Date.now();

  step('Per-peer progress (get_federated_rollout on hq): ap parks in pending_approval, the others hold at the barrier');
  const legOf = (v: Obj, name: string): Obj => (v.legs as Obj[]).find((l) => l.peer_name === name)!;
  const parked = await watch(
    id,
    (v) =>
      legOf(v, 'ap').state === 'pending_approval' &&
      ['hq', 'us'].every((n) => {
        const leg = legOf(v, n);
        return leg.completed_batches >= 1 && String(leg.waiting_for ?? '').startsWith('barrier');
      }),
    'ap pending_approval with hq and us at the barrier',
    60_000,
  );
  const approvalId = (legOf(parked, 'ap').pending_approval_ids as string[])[0];
  if (approvalId === undefined) throw new Error('ap’s leg is pending_approval but shows no approval id');
  console.log(`  hq's view: ${(parked.waiting as string[]).join(' | ')}`);

  step('On ap: the leg was requested as admin, so four-eyes needs someone else; bob approves');
  const self = await admin(ap).callTool('decide_approval', { approval_request_id: approvalId, decision: 'approve' });
  console.log(`  ap's admin approving its own request: ${self.isError ? self.text.split('\n')[0] : 'accepted?!'}`);
  if (!self.isError) throw new Error('four-eyes let the requester approve its own request');
  const approved = await tool(bob, 'decide_approval', {
    approval_request_id: approvalId,
    decision: 'approve',
    reason: 'federated rollout from hq, reviewed on ap',
  });
  console.log(`  bob approved ${approvalId}: ap's local rollout is ${approved.rollout_state}`);

  step('Watch until the federated rollout completes');
  const done = await watch(id, (v) => v.state === 'completed', 'the federated rollout to complete', 120_000);
  const rolloutSeconds = (Date.now() - rolloutStarted) / 1000;
  console.log(`  completed in ${rolloutSeconds.toFixed(1)}s from create (including the wait for bob)`);

  step('Every platform: drift_report for web, and its own list_rollouts with the federation reference');
  let allClean = true;
  for (const s of sites) {
    const drift = await tool(admin(s), 'drift_report', { group: 'web' });
    const rollouts = (await tool(admin(s), 'list_rollouts', { group: 'web' })).rollouts as Obj[];
    const leg = rollouts.find((r) => r.federation_rollout_ref === id);
    console.log(`  ${s.name}: drift_report { drift: ${drift.drift} } across ${drift.instance_count} instances`);
    if (leg === undefined) {
      allClean = false;
      console.log(`  ${s.name}: list_rollouts shows no rollout with federation_rollout_ref ${id}`);
    } else {
      console.log(
        `  ${s.name}: list_rollouts → rollout ${leg.id} ${leg.state}, ${leg.progress.healthy_total}/${leg.progress.total_instances} healthy, ` +
          `federation_rollout_ref ${leg.federation_rollout_ref}, requested_by ${leg.requested_by}` +
          (leg.federation_origin_peer_id === null ? ' (the local leg)' : ' (started by peer hq)'),
      );
    }
    if (drift.drift !== false || leg?.state !== 'completed') allClean = false;
  }

  step('Summary');
  const legs = done.legs as Obj[];
  const ok = done.state === 'completed' && allClean && legs.every((l) => l.state === 'completed');
  console.log(
    `  federated rollout ${done.state}: ${legs.map((l) => `${l.peer_name} ${l.state} ${l.healthy_total} healthy`).join(', ')}; ` +
      `demo ${((Date.now() - started) / 1000).toFixed(1)}s`,
  );
  if (!ok) throw new Error('the demo did not end where it should: every leg completed and no drift anywhere');
  console.log('  demo passed');
}

async function cleanup(): Promise<void> {
  for (const s of sites) {
    try {
      await s.sim?.stop();
    } catch (err) {
      console.error(`  stopping ${s.name}'s agents: ${(err as Error).message}`);
    }
    s.sim = null;
  }
  for (const s of sites) {
    for (const c of [...s.extraClients, ...(s.admin === null ? [] : [s.admin])]) await c.close().catch(() => undefined);
    s.extraClients = [];
    s.admin = null;
    try {
      await s.app?.close();
    } catch (err) {
      console.error(`  closing ${s.name}: ${(err as Error).message}`);
    }
    s.app = null;
  }
  for (const s of sites) fs.rmSync(s.dir, { recursive: true, force: true });
}

let exiting = false;
async function finish(code: number, message?: string): Promise<void> {
  if (exiting) return;
  exiting = true;
  if (message !== undefined) console.error(`\ndemo failed: ${message}`);
  await cleanup();
  process.exit(code);
}

process.once('SIGINT', () => void finish(130, 'interrupted (SIGINT)'));
process.once('SIGTERM', () => void finish(143, 'terminated (SIGTERM)'));
const watchdog = setTimeout(() => void finish(1, `did not finish within ${DEADLINE_MS / 1000}s`), DEADLINE_MS);
main().then(
  () => {
    clearTimeout(watchdog);
    return finish(0);
  },
  (err: unknown) => {
    clearTimeout(watchdog);
    return finish(1, err instanceof Error ? err.message : String(err));
  },
);
