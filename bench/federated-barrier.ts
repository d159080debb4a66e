// Benchmark 6: the barrier of a synchronized federated rollout. Five platforms, each `flotilla serve` in
// its own child process (as production runs them) on a throwaway Postgres database, HTTP on 127.0.0.1,
// real clocks, the reconciler ticking every 200 ms. Over MCP as each bootstrap admin: the origin proposes
// a peering to the four others (they accept), every platform publishes the versions, its group, baseline
// and policy, and the origin creates one synchronized rollout across all five (include_local). The
// 1,000 instances of each are inserted like fleet-fixture.ts does; those a batch starts heartbeat over
// HTTP (POST /agents/v1/heartbeat, the target digest, health ok) after a short apply delay. Measured from
// each platform's own event log: for every barrier (batch k → k+1), the time from the slowest leg
// completing batch k (its module.upgrade.batch_completed `at`) to the last leg starting batch k+1.
import { APPLY_DELAY_MS, InFlightAgents, POLL_MS, TickSampler } from './federated-barrier-drivers.js';
import { createServedBenchFleet, type ServedBenchFleet } from './fleet-fixture.js';
import {
  auditedCallsSent,
  legEvents,
  outboxAttempts,
  setBarriersApplied,
  signedCallsFrom,
  unchangedSetBarriers,
} from './federated-barrier-records.js';
import {
  barrierTimeline,
  describeSegments,
  formatTimeline,
  TIMELINE_LEGEND,
  type LegRecords,
} from './federated-barrier-timeline.js';
import { log, ms, since, summarize, type ResultRow } from './measure.js';
import { cpuOfAll, machineCpu, postgresBackends, processCpuMs } from './proc-stats.js';
import { startServedPlatform, type ServedPlatform } from './served-platform.js';

export interface FederatedBarrierOptions {
  /** Platforms in all: the origin (with its own leg) and platforms - 1 peers. */
  platforms: number;
  /** Instances per platform. */
  instances: number;
  /** Reconciler tick of every platform. */
  tickMs: number;
  /** Batch size of the `batch` strategy, percent of each platform's group. */
  batchPct: number;
  /** Read each platform's last reconciler tick (get_platform_info) this often; 0: not at all. */
  tickSampleMs: number;
  /** A folder for each platform's trace of the barrier path (barrier-trace.ts); none when undefined. */
  traceDir?: string | undefined;
}

/** Instances not in flight send nothing; told to heartbeat every minute, none goes stale during the run. */
const AGENT_HEARTBEAT_MS = 60_000;
const PEER_HEARTBEAT_MS = 1_000;
const ROLLOUT_TIMEOUT_MS = 300_000;
const GROUP = 'fleet';
const MODULE = 'agent';
const REGION = 'eu-west';

interface Platform {
  served: ServedPlatform;
  fleet: ServedBenchFleet | null;
  /** On a target: the origin's peer row id there. */
  originPeerId: string | null;
  /** On the origin: this target's peer row id there. */
  peerIdOnOrigin: string | null;
}

const describeCounts = (m: Map<string, number>): string =>
  [...m]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');

/** Starts every platform at once; if one fails, the others are stopped again. */
async function startPlatforms(names: string[], opts: FederatedBarrierOptions, into: Platform[]): Promise<void> {
  const started = await Promise.allSettled(
    names.map((name) =>
      startServedPlatform({
        name,
        region: REGION,
        tickMs: opts.tickMs,
        agentHeartbeatMs: AGENT_HEARTBEAT_MS,
        peerHeartbeatMs: PEER_HEARTBEAT_MS,
        ...(opts.traceDir === undefined ? {} : { traceDir: opts.traceDir }),
      }),
    ),
  );
  for (const s of started) {
    if (s.status === 'fulfilled') into.push({ served: s.value, fleet: null, originPeerId: null, peerIdOnOrigin: null });
  }
  const failed = started.find((s) => s.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}

export async function benchFederatedBarrier(opts: FederatedBarrierOptions): Promise<ResultRow[]> {
  const bench = 'federated barrier';
  const names = ['origin', ...Array.from({ length: opts.platforms - 1 }, (_, i) => `peer-${i + 1}`)];
  log(`== ${bench}: synchronized rollout across ${opts.platforms} platforms × ${opts.instances} instances ==`);
  if (opts.traceDir !== undefined) log(`  tracing the barrier path of every platform into ${opts.traceDir}`);
  log(
    `  each platform \`flotilla serve\` in its own process on its own throwaway Postgres database, HTTP on ` +
      `127.0.0.1, real clocks, tick ${opts.tickMs} ms, batch ${opts.batchPct} %, in-flight instances heartbeat ` +
      `${APPLY_DELAY_MS} ms after their batch starts (found within ${POLL_MS} ms), peer heartbeat ${PEER_HEARTBEAT_MS} ms`,
  );
  const platforms: Platform[] = [];
  const drivers: InFlightAgents[] = [];
  const samplers: TickSampler[] = [];
  try {
    const setupStarted = performance.now();
    await startPlatforms(names, opts, platforms);
    const [origin, ...peers] = platforms as [Platform, ...Platform[]];
    for (const p of peers) {
      const proposed = await origin.served.call('propose_federation_peer', {
        name: p.served.name,
        spawn_mode: 'autonomous_peer',
      });
      p.peerIdOnOrigin = (proposed.federation_peer as { id: string }).id;
      const accepted = await p.served.call('accept_federation_peer', {
        parent_url: origin.served.url,
        acceptance_token: proposed.acceptance_token as string,
      });
      p.originPeerId = (accepted.federation_peer as { id: string }).id;
      // Nothing is bound by default: the origin's admin acts here as this platform's admin.
      await p.served.call('create_peer_identity_binding', {
        federation_peer_id: p.originPeerId,
        remote_operator: 'admin',
        local_operator: 'admin',
      });
    }
    await Promise.all(
      platforms.map(async (p) => {
        p.fleet = await createServedBenchFleet(p.served, {
          count: opts.instances,
          groupName: GROUP,
          moduleName: MODULE,
          now: new Date(),
        });
        await p.served.call('set_intervention_policy', {
          action: 'system.fleet_rolling_upgrade',
          mode: 'auto',
          four_eyes: false,
        });
      }),
    );
    log(
      `  ${platforms.length} platform processes started, ${peers.length} peerings active, ` +
        `${(platforms.length * opts.instances).toLocaleString('en-US')} instances inserted (${since(setupStarted)})`,
    );

    for (const p of opts.tickSampleMs > 0 ? platforms : []) {
      const s = new TickSampler(p.served, opts.tickSampleMs);
      s.start();
      samplers.push(s);
    }
    // The rollout: created over MCP as the origin's bootstrap admin, who exists on every platform by that name.
    const t0 = new Date();
    const cpuBefore = platforms.map((p) => processCpuMs(p.served.pid) ?? Number.NaN);
    const backendsBefore = new Map(
      platforms.flatMap((p) => postgresBackends(p.served.database.name)).map((pid) => [pid, cpuOfAll([pid])]),
    );
    const machineBefore = machineCpu();
    const eluBefore = performance.eventLoopUtilization();
    const createStarted = performance.now();
    const created = await origin.served.call('create_federated_rollout', {
      module_name: MODULE,
      target_version: origin.fleet!.target.version,
      peers: peers.map((p) => p.served.name),
      include_local: true,
      group: GROUP,
      strategy: { type: 'batch', batch_pct: opts.batchPct },
      coordination: 'synchronized',
      max_consecutive_failures: 5,
      health_timeout_sec: 120,
    });
    const createMs = performance.now() - createStarted;
    const id = (created.federated_rollout as { id: string }).id;
    for (const p of platforms) {
      const d = new InFlightAgents(p.served, id, p.fleet!.target.digest, MODULE);
      d.start();
      drivers.push(d);
    }
    // Read from the origin's database (not its API): nothing is added to the origin's own work.
    const deadline = Date.now() + ROLLOUT_TIMEOUT_MS;
    for (;;) {
      const row = await origin.served.store.db
        .selectFrom('federated_rollouts')
        .select('state')
        .where('id', '=', id)
        .executeTakeFirstOrThrow();
      if (row.state !== 'running') break;
      if (Date.now() > deadline) throw new Error(`the rollout did not finish in ${ROLLOUT_TIMEOUT_MS / 1000} s`);
      const gone = platforms.find((p) => p.served.exited() !== null);
      if (gone !== undefined) {
        throw new Error(
          `${gone.served.name} ended (${gone.served.exited()}) during the rollout: ${gone.served.stderr()}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const finishedWall = performance.now();
    const elu = performance.eventLoopUtilization(eluBefore);
    const cpuAfter = platforms.map((p) => processCpuMs(p.served.pid) ?? Number.NaN);
    const machineAfter = machineCpu();
    const backendsAfter = platforms.flatMap((p) => postgresBackends(p.served.database.name));
    const postgresCpuMs = backendsAfter.reduce((s, pid) => s + cpuOfAll([pid]) - (backendsBefore.get(pid) ?? 0), 0);
    for (const d of drivers) await d.stop();
    // Late pushes and polls settle; then the figures come from each platform's own records.
    await new Promise((resolve) => setTimeout(resolve, 2 * opts.tickMs));
    for (const s of samplers) await s.stop();
    const view = (await origin.served.call('get_federated_rollout', { federated_rollout_id: id }))
      .federated_rollout as {
      state: string;
      reason: string | null;
      created_at: string;
      finished_at: string | null;
      legs: Array<{
        peer_name: string;
        state: string;
        last_error: string | null;
        batch_count: number | null;
        healthy_total: number;
      }>;
    };
    if (view.state !== 'completed') {
      throw new Error(
        `the federated rollout ended ${view.state}: ${view.reason ?? ''} ` +
          view.legs.map((l) => `${l.peer_name} ${l.state} ${l.last_error ?? ''}`).join('; '),
      );
    }
    const createdAt = Date.parse(view.created_at);
    const finishedAt = Date.parse(view.finished_at!);
    const rolloutMs = finishedWall - createStarted;

    const until = new Date(finishedAt + 1_000);
    const records: LegRecords[] = await Promise.all(
      platforms.map(async (p, i): Promise<LegRecords> => {
        const db = p.served.store.db;
        const events = await legEvents(db, id);
        if (i === 0) {
          return {
            name: p.served.name,
            remote: false,
            events,
            applied: new Map(),
            fromOrigin: [],
            toOrigin: [],
            pushesAnswered: [],
          };
        }
        return {
          name: p.served.name,
          remote: true,
          events,
          applied: await setBarriersApplied(db, p.originPeerId!, t0),
          fromOrigin: await signedCallsFrom(db, p.originPeerId!, t0, until),
          toOrigin: await signedCallsFrom(origin.served.store.db, p.peerIdOnOrigin!, t0, until),
          pushesAnswered: (await auditedCallsSent(db, t0)).get('rollouts.leg_progress') ?? [],
        };
      }),
    );
    const batchCount = view.legs[0]!.batch_count ?? 0;
    const barriers = barrierTimeline(records, batchCount);
    const firstStart = Math.min(...records.map((r) => r.events.started.get(0) ?? Infinity));
    log(formatTimeline(barriers, firstStart, opts.tickMs));
    log(TIMELINE_LEGEND);
    log(describeSegments(barriers));
    const waits = summarize(barriers.map((b) => b.wait));
    const met = barriers.every((b) => b.wait <= opts.tickMs);

    // Peer calls the origin made during the rollout, from its audit log and outbox, and the signed requests
    // the peers accepted from it (their nonces); status polls and peer heartbeats are never audited.
    const since0 = new Date(createdAt);
    const originSent = await auditedCallsSent(origin.served.store.db, since0);
    const sentCounts = new Map([...originSent].map(([op, ats]) => [op, ats.filter((t) => t <= finishedAt).length]));
    const precheckCounts = (await auditedCallsSent(origin.served.store.db, t0)).get('rollouts.precheck')?.length ?? 0;
    const originOutbox = await outboxAttempts(origin.served.store.db, t0);
    let accepted = 0;
    let unchanged = 0;
    for (const p of peers) {
      accepted += (await signedCallsFrom(p.served.store.db, p.originPeerId!, since0, new Date(finishedAt))).length;
      unchanged += await unchangedSetBarriers(p.served.store.db, p.originPeerId!, t0);
    }
    const audited = [...sentCounts.values()].reduce((a, b) => a + b, 0);
    const outboxCalls = [...originOutbox.values()].reduce((a, b) => a + b, 0);
    const unaudited = accepted - audited - outboxCalls;
    const originTicks = samplers[0]?.between(createdAt, finishedAt).count ?? null;
    const pushes = records.reduce((s, r) => s + r.pushesAnswered.length, 0);
    const totalSeconds = (finishedAt - createdAt) / 1000;
    const heartbeats = drivers.reduce((s, d) => s + d.heartbeats, 0);
    const hbErrors = drivers.reduce((s, d) => s + d.errors, 0);
    const core = (cpuMs: number): string => `${((cpuMs / rolloutMs) * 100).toFixed(0)} %`;

    log();
    log(
      `  barrier wait beyond the slowest leg over ${barriers.length} barriers: min ${waits.n === 0 ? '-' : Math.min(...barriers.map((b) => b.wait))} ms, ` +
        `median ${ms(waits.p50)} ms, max ${ms(waits.max)} ms; goal ≤ ${opts.tickMs} ms (one tick): ${met ? 'met' : 'MISSED'}`,
    );
    log(
      `  rollout: ${batchCount} batches per leg, ${view.legs.length} legs completed, ` +
        `${view.legs.reduce((s, l) => s + l.healthy_total, 0).toLocaleString('en-US')} instances healthy; ` +
        `created in ${ms(createMs)} ms over MCP (prechecks included), created → completed ${totalSeconds.toFixed(2)} s ` +
        `(wall ${(rolloutMs / 1000).toFixed(2)} s)`,
    );
    log(
      `  peer calls the origin made: audited ${describeCounts(sentCounts)} (+ rollouts.precheck ${precheckCounts} before ` +
        `the rollout was recorded); outbox deliveries: ${describeCounts(originOutbox) || 'none'}; signed requests the ` +
        `peers accepted from it meanwhile: ${accepted}, so ${unaudited} unaudited (rollouts.status polls, one per live ` +
        `peer leg per origin tick${originTicks === null ? '' : ` — it ticked ${originTicks} times`} — and peer ` +
        `heartbeats every ${PEER_HEARTBEAT_MS / 1000} s)`,
    );
    log(
      `  leg progress pushes the ${peers.length} peers sent the origin: ${pushes}; ` +
        `set_barrier calls that found the barrier already set: ${unchanged}`,
    );
    log(
      '  CPU during the rollout, % of one core: ' +
        platforms.map((p, i) => `${p.served.name} ${core(cpuAfter[i]! - cpuBefore[i]!)}`).join(', ') +
        `; their Postgres backends ${core(postgresCpuMs)} (those still connected at the end); this benchmark ` +
        `process (driver${samplers.length === 0 ? '' : ', tick samplers'}) event loop busy ${(elu.utilization * 100).toFixed(0)} %` +
        (machineBefore === null || machineAfter === null
          ? ''
          : `; the whole machine ${(((machineAfter.busyMs - machineBefore.busyMs) / (machineAfter.totalMs - machineBefore.totalMs)) * 100).toFixed(0)} % busy`),
    );
    log(
      samplers.length === 0
        ? '  reconciler ticks: not sampled (BENCH_FED_TICK_SAMPLE_MS=0)'
        : '  reconciler ticks during the rollout (duration p50 / max ms; period p50 ms, start to start; from ' +
            `get_platform_info every ${opts.tickSampleMs} ms): ` +
            platforms
              .map((p, i) => {
                const t = samplers[i]!.between(createdAt, finishedAt);
                const d = summarize(t.durations);
                return `${p.served.name} ${ms(d.p50)} / ${d.max} (${ms(summarize(t.periods).p50)})`;
              })
              .join(', '),
    );
    for (const p of platforms) {
      const lines = p.served
        .stderr()
        .split('\n')
        .filter((l) => l.trim() !== '');
      if (lines.length > 0)
        log(`  ${p.served.name} logged warnings or errors (${lines.length} lines kept), the last: ${lines.at(-1)}`);
    }
    log(
      `  in-flight heartbeats sent: ${heartbeats} (${hbErrors} errors${hbErrors > 0 ? `, last: ${drivers.find((d) => d.lastError)?.lastError}` : ''})`,
    );
    log();

    const label = `${opts.platforms} processes × ${opts.instances}, tick ${opts.tickMs} ms`;
    return [
      {
        bench,
        case: `barrier wait beyond slowest leg (${label})`,
        figure:
          `${barriers.length} barriers: min ${Math.min(...barriers.map((b) => b.wait))}, ` +
          `median ${ms(waits.p50)}, max ${ms(waits.max)} ms`,
        goal: `max ≤ ${opts.tickMs} ms (1 tick)`,
        ok: met,
      },
      {
        bench,
        case: `rollout, ${batchCount} batches × ${view.legs.length} legs`,
        figure: `${totalSeconds.toFixed(1)} s; ${audited + outboxCalls} audited calls to peers, ${pushes} pushes back`,
      },
    ];
  } finally {
    for (const d of drivers) await d.stop().catch(() => undefined);
    for (const s of samplers) await s.stop().catch(() => undefined);
    await Promise.all(platforms.map((p) => p.served.stop().catch(() => undefined)));
  }
}
