// npm run demo: the rolling-upgrade tutorial, end to end, on the embedded store. Starts a platform and
// 50 simulated agents, then drives the tutorial through an MCP client over HTTP: plan, approve as a
// second operator, watch batches, then the circuit-breaker drill with a broken version and a rollback.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { AgentSimulator } from '../src/agents/simulator.js';
import { createApp } from '../src/app.js';
import { connectHttpClient, type FlotillaClient } from '../src/mcp/client.js';

// Tool results are read loosely here, the way an assistant reads them.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;

const FLEET = 50;
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flotilla-demo-'));
const digest = (c: string): string => `sha256:${c.repeat(64)}`;
const step = (title: string): void => console.log(`\n── ${title}`);

async function tool(client: FlotillaClient, name: string, args: Record<string, unknown> = {}): Promise<Obj> {
  const r = await client.callTool(name, args);
  if (r.isError) throw new Error(`${name} failed: ${r.text.split('\n')[0]}`);
  return r.structured as Obj;
}

function bar(done: number, total: number | undefined, message: string | undefined): void {
  const width = 30;
  const filled = total === undefined || total === 0 ? 0 : Math.round((done / total) * width);
  process.stdout.write(`\r  [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(message ?? '').padEnd(60)}`);
}

/** Watches a rollout until it reaches one of `until`, drawing a progress bar from MCP progress notifications. */
async function watch(client: FlotillaClient, rolloutId: string, until: string[], deadlineSec = 120): Promise<Obj> {
  const deadline = Date.now() + deadlineSec * 1000;
  for (;;) {
    const r = await client.callTool(
      'watch_rollout',
      { rollout_id: rolloutId, until, timeout_sec: 20 },
      { onProgress: bar },
    );
    if (r.isError) throw new Error(`watch_rollout failed: ${r.text}`);
    const out = r.structured as Obj;
    if (out.reached === true) {
      process.stdout.write('\n');
      return out.rollout;
    }
    if (Date.now() > deadline)
      throw new Error(`rollout ${rolloutId} did not reach ${until.join('|')} in ${deadlineSec}s`);
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  step('Start a platform on the embedded store and 50 simulated agents');
  const app = await createApp(
    {
      host: '127.0.0.1',
      port: 0,
      name: 'demo',
      region: 'eu-west',
      tickMs: 250,
      agentHeartbeatMs: 500,
      databaseUrl: `pglite://${dataDir}/data`,
      allowedOrigins: [],
    },
    { logger: pino({ level: 'warn' }, pino.destination(2)) },
  );
  const url = app.http!.url;
  console.log(`  platform at ${url}/mcp`);
  const alice = await connectHttpClient(url, app.bootstrap!.token);
  const bobToken = (await tool(alice, 'create_operator', { name: 'bob', role: 'approver' })).token as string;
  const bob = await connectHttpClient(url, bobToken);

  for (const [version, c] of [
    ['1.24.0', 'a'],
    ['1.26.0', 'b'],
    ['1.26.0-broken', 'c'],
  ] as const) {
    await tool(alice, 'publish_module_version', { module_name: 'nginx', version, digest: digest(c) });
  }
  await tool(alice, 'promote_module_version', {
    module_name: 'nginx',
    version_id: '1.24.0',
    lifecycle_state: 'blessed',
  });
  await tool(alice, 'promote_module_version', { module_name: 'nginx', version_id: '1.24.0', lifecycle_state: 'live' });
  await tool(alice, 'promote_module_version', {
    module_name: 'nginx',
    version_id: '1.26.0',
    lifecycle_state: 'blessed',
  });
  const enroll = await tool(alice, 'create_enrollment_token', { group: 'edge' });
  await tool(alice, 'assign_module_version', { group: 'edge', module_name: 'nginx', version_id: '1.24.0' });
  const sim = new AgentSimulator({
    url,
    enrollToken: enroll.token as string,
    count: FLEET,
    modules: { nginx: '1.24.0' },
    failVersions: new Set(['nginx=1.26.0-broken']),
    applyDelayMs: 300,
    intervalMs: 250,
    namePrefix: 'edge',
    logger: pino({ level: 'warn' }, pino.destination(2)),
  });
  sim.start();
  await sim.waitEnrolled(60_000);
  console.log(`  ${sim.stats.enrolled} agents enrolled in group edge, running nginx 1.24.0`);

  try {
    step('Step 1 — identify the upgrade target');
    const versions = await tool(alice, 'list_module_versions', { module_name: 'nginx' });
    for (const v of versions.versions) console.log(`  ${v.version.padEnd(14)} ${v.lifecycle_state}`);

    step('Step 2 — plan the upgrade (dry run, then for real)');
    const inputs = {
      template_id: 'edge',
      module_name: 'nginx',
      target_version_id: '1.26.0',
      batch_pct: 20,
      max_consecutive_failures: 2,
      health_timeout_sec: 15,
    };
    const dry = await tool(alice, 'execute_skill', { skill: 'system-rolling-module-upgrade', inputs, dry_run: true });
    console.log(
      `  dry run: ${dry.total_instances} instances → ${dry.batch_count} batches of ${dry.batch_size}, ~${dry.estimated_total_seconds}s`,
    );
    const plan = await tool(alice, 'execute_skill', { skill: 'system-rolling-module-upgrade', inputs });
    console.log(`  rollout ${plan.rollout_id} is ${plan.state}; approval ${plan.approval_request_id}`);

    step('Step 3 — approve the plan (four-eyes: admin asked, so bob decides)');
    const self = await alice.callTool('decide_approval', {
      approval_request_id: plan.approval_request_id,
      decision: 'approve',
    });
    console.log(`  admin approving its own plan: ${self.text.split('\n')[0]}`);
    const approved = await tool(bob, 'decide_approval', {
      approval_request_id: plan.approval_request_id,
      decision: 'approve',
      reason: 'demo',
    });
    console.log(`  bob approved: rollout is ${approved.rollout_state}`);

    step('Step 4 — watch progress');
    const done = await watch(alice, plan.rollout_id as string, ['completed', 'circuit_open', 'aborted', 'failed']);
    console.log(
      `  rollout ${done.state}: ${done.progress.healthy_total} healthy, ${done.progress.failed_total} failed`,
    );
    const drift = await tool(alice, 'drift_report', { template_id: 'edge' });
    console.log(`  drift_report: { drift: ${drift.drift} } across ${drift.instance_count} instances`);

    step('Step 5 — circuit breaker drill with nginx 1.26.0-broken');
    const broken = await tool(alice, 'execute_skill', {
      skill: 'system-rolling-module-upgrade',
      inputs: { ...inputs, target_version_id: '1.26.0-broken' },
    });
    await tool(bob, 'decide_approval', { approval_request_id: broken.approval_request_id, decision: 'approve' });
    const tripped = await watch(alice, broken.rollout_id as string, ['circuit_open', 'completed', 'failed']);
    const trip = (
      await tool(alice, 'recent_events', { kind_prefix: 'module.upgrade.circuit_breaker_tripped', limit: 1 })
    ).events[0];
    console.log(
      `  ${tripped.state}: ${trip.payload.reason}; failed: ${trip.payload.failed_instance_ids.length} instance(s) in batch ${trip.payload.batch_index}`,
    );
    const decided = await tool(bob, 'decide_approval', {
      approval_request_id: tripped.approval_request_id,
      decision: 'approve',
      option: 'rollback_completed_batches',
      reason: 'the new version is broken',
    });
    console.log(`  bob chose rollback_completed_batches: rollout is ${decided.rollout_state}`);
    const rolledBack = await watch(alice, broken.rollout_id as string, ['rolled_back', 'failed']);
    const after = await tool(alice, 'drift_report', { template_id: 'edge' });
    console.log(`  rollout ${rolledBack.state}; drift_report: { drift: ${after.drift} }`);

    step('Extract a learning');
    const learning = await tool(alice, 'create_learning', {
      title: 'nginx 1.24 → 1.26 rolling upgrade — batch_pct=20% works for edge fleet',
      category: 'best_practice',
      content: `${FLEET}-instance edge fleet: 20% batches × 5; the broken build tripped the breaker after 2 failures and rolled back cleanly.`,
      tags: ['rolling-upgrade', 'nginx', 'batch-sizing'],
    });
    console.log(`  learning ${learning.learning?.id ?? learning.id ?? ''} recorded`);

    step('Summary');
    const ok =
      done.state === 'completed' &&
      drift.drift === false &&
      tripped.state === 'circuit_open' &&
      rolledBack.state === 'rolled_back' &&
      after.drift === false;
    console.log(
      `  upgrade: ${done.state}; drill: breaker ${tripped.state} → ${rolledBack.state}; ${((Date.now() - started) / 1000).toFixed(1)}s`,
    );
    if (!ok) throw new Error('the demo did not end where the tutorial says it should');
    console.log('  demo passed');
  } finally {
    await sim.stop();
    await alice.close();
    await bob.close();
    await app.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
