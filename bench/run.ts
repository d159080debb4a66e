// `npm run bench`: runs each benchmark in turn and prints a summary table. Benchmarks print
// figures; they are not tests. Postgres runs use throwaway databases on TEST_DATABASE_URL's server
// (default postgres://postgres@127.0.0.1:5432/test), dropped at the end; without a reachable
// Postgres the Postgres runs are skipped. Knobs (environment):
//   BENCH_EVENTS         events in the Postgres log          (default 1000000)
//   BENCH_PGLITE_EVENTS  events in the PGlite log, 0 = skip   (default 1000000)
//   BENCH_CALLS          timed calls per recent_events case   (default 300)
//   BENCH_MCP_CALLS      timed calls per tool and transport   (default 1000)
//   BENCH_HB_AGENTS      agents heartbeating over HTTP, 0 = skip                (default 10000)
//   BENCH_HB_SECONDS     timed seconds per target (no-op, platform), in 2 rounds (default 10)
//   BENCH_HB_CONNECTIONS load client's keep-alive connections                  (default 128)
//   BENCH_HB_IN_FLIGHT   requests the load client keeps outstanding              (default 128)
//   BENCH_HB_CPU_PROFILE write a .cpuprofile of the platform's timed windows here (default: none)
//   BENCH_MEMORY_INSTANCES  instances for the memory benchmark, 0 = skip      (default 100000)
//   BENCH_ROLLOUT_INSTANCES fleet for the rolling-upgrade benchmark (Postgres), 0 = skip (default 100000)
//   BENCH_PGLITE_ROLLOUT_INSTANCES  the same on PGlite, 0 = skip              (default 100000)
//   BENCH_ROLLOUT_SMALL  the smaller fleet ticks are compared with             (default 10000)
//   BENCH_ROLLOUT_PLANS  plans timed per fleet                                 (default 3)
//   BENCH_ROLLOUT_TICKS  ticks timed per fleet and case                        (default 10)
//   BENCH_FED_INSTANCES  instances per platform, federated barrier benchmark, 0 = skip (default 1000)
//   BENCH_FED_PLATFORMS  platforms in the federated rollout (origin included)  (default 5)
//   BENCH_FED_TICK_MS    every platform's reconciler tick there               (default 200)
//   BENCH_FED_BATCH_PCT  batch size of its batch strategy, % of each fleet     (default 10)
//   BENCH_FED_TICK_SAMPLE_MS read each platform's last tick over MCP this often, 0 = not (default 0)
//   BENCH_FED_TRACE      a folder: trace each platform's barrier path there (barrier-trace.ts; default none)
//   BENCH_PLACEMENT_REPLICAS replicas placed per plan, placement benchmark, 0 = skip (default 100000)
//   BENCH_PLACEMENT_PEERS   peers they are placed over                    (default 50)
//   BENCH_FEDDEP_DEPLOYMENTS federated deployments the host reconciles, 0 = skip (default 20)
//   BENCH_FEDDEP_PEERS      peers they are spread over                    (default 5)
//   BENCH_FEDDEP_INSTANCES  instances in group fleet on each peer         (default 200)
//   BENCH_FEDDEP_REPLICAS   replicas of each deployment                   (default 20)
//   BENCH_FEDDEP_TICKS      host reconciliation ticks timed               (default 30)
//   BENCH_MANIFEST_ROUNDS   diff_manifest calls per manifest case, 0 = skip (default 5)
import os from 'node:os';
import path from 'node:path';
import { killAllChildren } from './child-processes.js';
import { benchFederatedBarrier } from './federated-barrier.js';
import { benchFederatedDeployments } from './federated-deployments.js';
import { benchHeartbeatIngest } from './heartbeat-ingest.js';
import { benchManifestLimits } from './manifest-limits.js';
import { benchMcpRoundTrip, IN_FLIGHT } from './mcp-round-trip.js';
import { formatTable, log, ms, rate, since, type ResultRow } from './measure.js';
import { benchPlacement } from './placement.js';
import { benchPlatformMemory } from './platform-memory.js';
import { benchRecentEvents } from './recent-events.js';
import { benchRollingUpgrade } from './rolling-upgrade.js';
import { ADMIN_URL, dropAllThrowawayDatabases, postgresVersion } from './throwaway-database.js';

function intEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw.replaceAll('_', ''));
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a whole number, got ${raw}`);
  return value;
}

const EVENTS = intEnv('BENCH_EVENTS', 1_000_000);
const PGLITE_EVENTS = intEnv('BENCH_PGLITE_EVENTS', 1_000_000);
const CALLS = intEnv('BENCH_CALLS', 300);
const MCP_CALLS = intEnv('BENCH_MCP_CALLS', 1000);
const HB_AGENTS = intEnv('BENCH_HB_AGENTS', 10_000);
const HB_SECONDS = intEnv('BENCH_HB_SECONDS', 10);
const HB_CONNECTIONS = intEnv('BENCH_HB_CONNECTIONS', 128);
const HB_IN_FLIGHT = intEnv('BENCH_HB_IN_FLIGHT', 128);
const HB_CPU_PROFILE = process.env.BENCH_HB_CPU_PROFILE === '' ? undefined : process.env.BENCH_HB_CPU_PROFILE;
const MEMORY_INSTANCES = intEnv('BENCH_MEMORY_INSTANCES', 100_000);
const ROLLOUT_INSTANCES = intEnv('BENCH_ROLLOUT_INSTANCES', 100_000);
const PGLITE_ROLLOUT_INSTANCES = intEnv('BENCH_PGLITE_ROLLOUT_INSTANCES', 100_000);
const ROLLOUT_SMALL = intEnv('BENCH_ROLLOUT_SMALL', 10_000);
const ROLLOUT_PLANS = Math.max(1, intEnv('BENCH_ROLLOUT_PLANS', 3));
const ROLLOUT_TICKS = Math.max(1, intEnv('BENCH_ROLLOUT_TICKS', 10));
const FED_INSTANCES = intEnv('BENCH_FED_INSTANCES', 1000);
const FED_PLATFORMS = Math.max(2, intEnv('BENCH_FED_PLATFORMS', 5));
const FED_TICK_MS = Math.max(10, intEnv('BENCH_FED_TICK_MS', 200));
const FED_BATCH_PCT = Math.min(100, Math.max(1, intEnv('BENCH_FED_BATCH_PCT', 10)));
const FED_TICK_SAMPLE_MS = intEnv('BENCH_FED_TICK_SAMPLE_MS', 0);
const FED_TRACE = process.env.BENCH_FED_TRACE === '' ? undefined : process.env.BENCH_FED_TRACE;
const PLACEMENT_REPLICAS = intEnv('BENCH_PLACEMENT_REPLICAS', 100_000);
const PLACEMENT_PEERS = Math.max(1, intEnv('BENCH_PLACEMENT_PEERS', 50));
const FEDDEP_DEPLOYMENTS = intEnv('BENCH_FEDDEP_DEPLOYMENTS', 20);
const FEDDEP_PEERS = Math.max(1, intEnv('BENCH_FEDDEP_PEERS', 5));
const FEDDEP_INSTANCES = Math.max(1, intEnv('BENCH_FEDDEP_INSTANCES', 200));
const FEDDEP_REPLICAS = Math.max(1, intEnv('BENCH_FEDDEP_REPLICAS', 20));
const FEDDEP_TICKS = Math.max(1, intEnv('BENCH_FEDDEP_TICKS', 30));
const MANIFEST_ROUNDS = intEnv('BENCH_MANIFEST_ROUNDS', 5);
const CONTRAST_CALLS = 10;
const MCP_SEED_EVENTS = 10_000;

for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping child processes, dropping throwaway databases`);
    killAllChildren();
    void dropAllThrowawayDatabases().finally(() => process.exit(code));
  });
}

/** Other processes on a 2-core machine move the p99 figures: the load average is printed with them. */
function loadAverage(): string {
  return os
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');
}

const started = performance.now();
const pgVersion = await postgresVersion();
log(
  `Flotilla benchmarks — Node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model.trim() ?? '?'}), ` +
    `load average ${loadAverage()}`,
);
log(
  pgVersion === null
    ? `Postgres: not reachable at ${new URL(ADMIN_URL).host}; Postgres runs skipped`
    : `Postgres ${pgVersion} at ${new URL(ADMIN_URL).host}; PGlite 0.5 (Postgres 18, in memory, same process)`,
);
log();

const runs: Array<{ name: string; skip: boolean; run: () => Promise<ResultRow[]> }> = [
  {
    name: 'placement',
    skip: PLACEMENT_REPLICAS === 0,
    run: () => benchPlacement({ replicas: PLACEMENT_REPLICAS, peers: PLACEMENT_PEERS, plans: 200 }),
  },
  {
    name: 'manifest limits',
    skip: MANIFEST_ROUNDS === 0,
    run: () => benchManifestLimits({ rounds: MANIFEST_ROUNDS }),
  },
  {
    name: 'recent_events on Postgres',
    skip: pgVersion === null || EVENTS === 0,
    run: () => benchRecentEvents({ store: 'postgres', count: EVENTS, calls: CALLS, contrastCalls: CONTRAST_CALLS }),
  },
  {
    name: 'recent_events on PGlite',
    skip: PGLITE_EVENTS === 0,
    run: () =>
      benchRecentEvents({ store: 'pglite', count: PGLITE_EVENTS, calls: CALLS, contrastCalls: CONTRAST_CALLS }),
  },
  {
    name: 'MCP round trip on PGlite',
    skip: MCP_CALLS === 0,
    run: () => benchMcpRoundTrip({ store: 'pglite', calls: MCP_CALLS, seedEvents: MCP_SEED_EVENTS }),
  },
  {
    name: 'MCP round trip on Postgres',
    skip: pgVersion === null || MCP_CALLS === 0,
    run: () => benchMcpRoundTrip({ store: 'postgres', calls: MCP_CALLS, seedEvents: MCP_SEED_EVENTS }),
  },
  {
    name: 'heartbeat ingestion over HTTP',
    skip: pgVersion === null || HB_AGENTS === 0 || HB_SECONDS === 0,
    run: () =>
      benchHeartbeatIngest({
        agents: HB_AGENTS,
        seconds: HB_SECONDS,
        rounds: 2,
        connections: Math.max(1, HB_CONNECTIONS),
        inFlight: Math.max(1, HB_IN_FLIGHT),
        ...(HB_CPU_PROFILE === undefined ? {} : { cpuProfile: HB_CPU_PROFILE }),
      }),
  },
  {
    name: 'platform memory',
    skip: pgVersion === null || MEMORY_INSTANCES === 0,
    run: () => benchPlatformMemory({ instances: MEMORY_INSTANCES }),
  },
  {
    name: 'rolling upgrade on Postgres',
    skip: pgVersion === null || ROLLOUT_INSTANCES === 0,
    run: () =>
      benchRollingUpgrade({
        store: 'postgres',
        fleets: ROLLOUT_SMALL === 0 ? [ROLLOUT_INSTANCES] : [ROLLOUT_INSTANCES, ROLLOUT_SMALL],
        plans: ROLLOUT_PLANS,
        ticks: ROLLOUT_TICKS,
      }),
  },
  {
    name: 'rolling upgrade on PGlite',
    skip: PGLITE_ROLLOUT_INSTANCES === 0,
    run: () =>
      benchRollingUpgrade({
        store: 'pglite',
        fleets: ROLLOUT_SMALL === 0 ? [PGLITE_ROLLOUT_INSTANCES] : [PGLITE_ROLLOUT_INSTANCES, ROLLOUT_SMALL],
        plans: ROLLOUT_PLANS,
        ticks: ROLLOUT_TICKS,
      }),
  },
  {
    name: 'federated barrier on Postgres',
    skip: pgVersion === null || FED_INSTANCES === 0,
    run: () =>
      benchFederatedBarrier({
        platforms: FED_PLATFORMS,
        instances: FED_INSTANCES,
        tickMs: FED_TICK_MS,
        batchPct: FED_BATCH_PCT,
        tickSampleMs: FED_TICK_SAMPLE_MS,
        traceDir: FED_TRACE === undefined ? undefined : path.resolve(FED_TRACE),
      }),
  },
  {
    name: 'federated deployments on Postgres',
    skip: pgVersion === null || FEDDEP_DEPLOYMENTS === 0,
    run: () =>
      benchFederatedDeployments({
        deployments: FEDDEP_DEPLOYMENTS,
        peers: FEDDEP_PEERS,
        instances: FEDDEP_INSTANCES,
        replicas: FEDDEP_REPLICAS,
        ticks: FEDDEP_TICKS,
      }),
  },
];

const results: ResultRow[] = [];
const failures: string[] = [];
for (const r of runs) {
  if (r.skip) continue;
  try {
    results.push(...(await r.run()));
  } catch (err) {
    failures.push(r.name);
    console.error(`${r.name} failed:`, err);
    log();
  }
}

log('== summary ==');
log(
  formatTable(
    ['benchmark', 'case', 'n', 'p50 ms', 'p99 ms', 'mean ms', 'calls/s', 'calls/s in flight', 'other', 'goal', ''],
    results.map((r) => [
      r.bench,
      r.case,
      r.timing === undefined ? '' : String(r.timing.n),
      r.timing === undefined ? '' : ms(r.timing.p50),
      r.timing === undefined ? '' : ms(r.timing.p99),
      r.timing === undefined ? '' : ms(r.timing.mean),
      r.timing === undefined || r.parallelPerSec !== undefined ? '' : rate(r.timing.perSec),
      r.parallelPerSec === undefined ? '' : `${rate(r.parallelPerSec)} (${r.inFlight ?? IN_FLIGHT})`,
      r.figure ?? '',
      r.goal ?? '',
      r.ok === undefined ? '' : r.ok ? 'ok' : 'MISSED',
    ]),
  ),
);
const missed = results.filter((r) => r.ok === false).length;
log(
  `${results.filter((r) => r.ok === true).length} goals met, ${missed} missed` +
    `${failures.length === 0 ? '' : `, ${failures.length} benchmark(s) failed: ${failures.join(', ')}`}; ` +
    `total ${since(started)}; load average now ${loadAverage()}`,
);

// A failed benchmark is an error; a missed goal is a figure to read, not a failure.
process.exitCode = failures.length === 0 ? 0 : 1;
// Everything is closed by now; if a handle still holds the loop, say so and leave anyway.
setTimeout(() => {
  console.error('bench: an open handle kept the process alive after the run; exiting');
  process.exit(process.exitCode);
}, 5_000).unref();
