// Benchmark 5: the rolling upgrade at fleet scale. Planning (RolloutsService.plan, not a dry run, policy
// auto so the plan is written and starts running) over every instance of a group, and the reconciler
// tick with a batch of 1,000 instances in flight, half of which have just heartbeated the target
// digest healthy. The same is measured on a second, smaller fleet with the same batch in flight: a
// tick's cost should follow the batch, not the fleet.
import { sql } from 'kysely';
import pino from 'pino';
import { createApp, type App } from '../src/app.js';
import { ROLLING_UPGRADE_ACTION } from '../src/domain/approvals.js';
import { ManualClock } from '../src/scheduler/clock.js';
import { RolloutRunner } from '../src/scheduler/rollout-runner.js';
import type { PlanInput } from '../src/services/rollouts-service.js';
import { openStore, type Store, type StoreKind } from '../src/store/db.js';
import { createBenchFleet, type BenchFleet } from './fleet-fixture.js';
import { formatTable, log, ms, since, summarize, TIMING_HEADER, timingCells, type ResultRow } from './measure.js';
import { createThrowawayDatabase, type ThrowawayDatabase } from './throwaway-database.js';

export interface RolloutOptions {
  store: StoreKind;
  /** Fleet sizes, each in a database of its own; the first is the one the plan goal applies to. */
  fleets: readonly number[];
  /** Plans timed per fleet (each but the last is aborted so the next can be planned). */
  plans: number;
  /** Ticks timed per fleet and case. */
  ticks: number;
}

export const GOAL_PLAN_MS = 1_000;
export const GOAL_TICK_MS = 50;
/** The batch in flight: the canary batch of canary_step_up. */
const IN_FLIGHT = 1_000;
const HEALTHY = IN_FLIGHT / 2;
const silent = pino({ level: 'silent' });

async function openBenchStore(kind: StoreKind): Promise<{ store: Store; database: ThrowawayDatabase | null }> {
  if (kind === 'pglite') {
    return { store: await openStore({ kind: 'pglite', dataDir: null }, { logger: silent }), database: null };
  }
  const database = await createThrowawayDatabase();
  try {
    return { store: await openStore({ kind: 'postgres', url: database.url }, { logger: silent }), database };
  } catch (err) {
    await database.drop();
    throw err;
  }
}

interface FleetFigures {
  fleet: number;
  plan: number[];
  startTick: number;
  judgeTick: number[];
  judgeRunner: number[];
  quietTick: number[];
  staleSweep: number[];
  batchCount: number;
  /** VACUUM ANALYZE of the targets and instances after planning, before the ticks. */
  settleSeconds: number;
}

async function timeOnce(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

async function measureFleet(kind: StoreKind, size: number, opts: RolloutOptions): Promise<FleetFigures> {
  if (size < IN_FLIGHT) throw new Error(`a fleet of ${size} cannot have ${IN_FLIGHT} instances in flight`);
  const { store, database } = await openBenchStore(kind);
  let app: App | null = null;
  try {
    const clock = new ManualClock(new Date());
    app = await createApp(
      {
        host: '127.0.0.1',
        port: 0,
        name: 'bench-rollouts',
        region: 'eu-west',
        tickMs: 5000,
        databaseUrl: undefined,
        allowedOrigins: [],
      },
      { store, clock, logger: silent, http: false, startReconciler: false },
    );
    const { services } = app;
    const fleet: BenchFleet = await createBenchFleet(app, {
      count: size,
      groupName: 'fleet',
      moduleName: 'agent',
      now: clock.now(),
    });
    await services.policies.set(fleet.admin, { action: ROLLING_UPGRADE_ACTION, mode: 'auto', fourEyes: false });
    log(
      `  ${store.describe}: ${size.toLocaleString('en-US')} instances inserted in ${fleet.insertSeconds.toFixed(1)} s; ` +
        `policy ${ROLLING_UPGRADE_ACTION} = auto`,
    );
    const input: PlanInput = {
      group: { groupName: fleet.groupName },
      module: { moduleName: fleet.moduleName },
      targetVersionRef: fleet.target.id,
      strategy: { type: 'canary_step_up', canary_count: IN_FLIGHT, step_pct: 1 },
      maxConsecutiveFailures: 5,
      healthTimeoutSec: 600,
      maxFailurePct: null,
      minSample: null,
      soakSec: 0,
    };

    // Planning: every plan writes one target per instance; all but the last are aborted.
    const planMs: number[] = [];
    let rolloutId = '';
    let batchCount = 0;
    for (let i = 0; i < opts.plans; i++) {
      const planStarted = performance.now();
      const p = await services.rollouts.plan(fleet.admin, input, false);
      planMs.push(performance.now() - planStarted);
      if (p.state !== 'running' || p.totalInstances !== size) {
        throw new Error(`plan ${i}: state ${p.state}, ${p.totalInstances} instances`);
      }
      rolloutId = p.rolloutId!;
      batchCount = p.batchCount;
      if (i < opts.plans - 1) await services.rollouts.control(fleet.admin, rolloutId, 'abort', 'benchmark re-plan');
    }

    // What autovacuum does soon after a plan writes a target per instance (PGlite has no autovacuum):
    // the ticks are timed on settled tables, not beside a vacuum of them.
    const settleStarted = performance.now();
    await sql`VACUUM ANALYZE rollout_targets`.execute(store.db);
    await sql`VACUUM ANALYZE instances`.execute(store.db);
    const settleSeconds = (performance.now() - settleStarted) / 1000;
    const reconciler = app.reconciler;
    const tick = async (): Promise<number> => {
      clock.advance(1000);
      const tickStarted = performance.now();
      const report = await reconciler.tickOnce();
      const took = performance.now() - tickStarted;
      if (report.failed.length > 0) throw new Error(`tick failed: ${report.failed.join(', ')}`);
      return took;
    };
    const db = store.db;
    const count = async (state: string): Promise<number> => {
      const r = await sql<{ n: string }>`
        SELECT count(*) AS n FROM rollout_targets WHERE rollout_id = ${rolloutId} AND state = ${state}`.execute(db);
      return Number(r.rows[0]!.n);
    };

    // The first tick starts batch 0: 1,000 desired versions, 1,000 instance_started events.
    const startTick = await tick();
    if ((await count('upgrading')) !== IN_FLIGHT) throw new Error('batch 0 did not start 1,000 instances');

    // Half of the batch reports the target digest, healthy, after the batch started.
    const heartbeat = async (digest: string): Promise<void> => {
      await sql`
        UPDATE instances SET running_module_digests = jsonb_build_object(${fleet.moduleName}::text, ${digest}::text),
          health = 'ok', last_heartbeat_at = ${clock.now()}
        WHERE id IN (SELECT instance_id FROM rollout_targets
                     WHERE rollout_id = ${rolloutId} AND batch_index = 0 ORDER BY position LIMIT ${HEALTHY})`.execute(
        db,
      );
    };
    const rejudge = async (): Promise<void> => {
      await sql`
        UPDATE rollout_targets SET state = 'upgrading', finished_at = NULL, outcome_reason = NULL
        WHERE rollout_id = ${rolloutId} AND batch_index = 0 AND state = 'healthy'`.execute(db);
    };
    clock.advance(1000);
    await heartbeat(fleet.target.digest);
    const judgeTick: number[] = [];
    for (let i = 0; i < opts.ticks; i++) {
      judgeTick.push(await tick());
      if ((await count('healthy')) !== HEALTHY) throw new Error('the tick did not judge 500 instances healthy');
      await rejudge(); // the same work again next time
    }
    // The rollout step alone (what RolloutRunner.tick does), without the other reconciler steps.
    const runner = new RolloutRunner({ db, logger: silent, policies: services.policies });
    const judgeRunner: number[] = [];
    for (let i = 0; i < opts.ticks; i++) {
      judgeRunner.push(await timeOnce(() => runner.tick(clock.advance(1000))));
      if ((await count('healthy')) !== HEALTHY) throw new Error('the runner did not judge 500 instances healthy');
      await rejudge();
    }
    // A tick with the batch in flight and nothing new to judge.
    await heartbeat(fleet.old.digest);
    const quietTick: number[] = [];
    for (let i = 0; i < opts.ticks; i++) quietTick.push(await tick());
    if ((await count('upgrading')) !== IN_FLIGHT) throw new Error('a quiet tick judged something');
    // The stale sweep alone: the only step that reads the whole fleet (nothing is stale here).
    const staleSweep: number[] = [];
    for (let i = 0; i < opts.ticks; i++) {
      staleSweep.push(await timeOnce(() => services.fleet.sweepStale(clock.now())));
    }
    return {
      fleet: size,
      plan: planMs,
      startTick,
      judgeTick,
      judgeRunner,
      quietTick,
      staleSweep,
      batchCount,
      settleSeconds,
    };
  } finally {
    await app?.close();
    await store.close();
    await database?.drop();
  }
}

export async function benchRollingUpgrade(opts: RolloutOptions): Promise<ResultRow[]> {
  const started = performance.now();
  const bench = `rolling upgrade (${opts.store})`;
  log(
    `== ${bench}: plan over the fleet (policy auto, written), then ticks with ${IN_FLIGHT.toLocaleString('en-US')} ` +
      `in flight (canary_step_up canary ${IN_FLIGHT}, step 1%), ${HEALTHY} of them heartbeating the target healthy ==`,
  );
  const figures: FleetFigures[] = [];
  for (const size of opts.fleets) figures.push(await measureFleet(opts.store, size, opts));

  const rows: ResultRow[] = [];
  const table: string[][] = [];
  for (const f of figures) {
    const fleet = f.fleet.toLocaleString('en-US');
    const cases: Array<{ label: string; samples: number[]; goal?: string; limit?: number }> = [
      {
        label: `plan, ${f.batchCount} batches`,
        samples: f.plan,
        ...(f === figures[0] ? { goal: `p50 < ${GOAL_PLAN_MS} ms`, limit: GOAL_PLAN_MS } : {}),
      },
      { label: 'tick: start batch 0', samples: [f.startTick] },
      {
        label: `tick: judge ${HEALTHY} of ${IN_FLIGHT} in flight`,
        samples: f.judgeTick,
        goal: `p50 < ${GOAL_TICK_MS} ms`,
        limit: GOAL_TICK_MS,
      },
      { label: `  rollout step alone (RolloutRunner.tick)`, samples: f.judgeRunner },
      { label: `tick: ${IN_FLIGHT} in flight, nothing new`, samples: f.quietTick },
      { label: '  stale sweep alone', samples: f.staleSweep },
    ];
    for (const c of cases) {
      const timing = summarize(c.samples);
      // The typical call: one slow tick in ten on a shared 2-core machine is scheduling (see max).
      const ok = c.limit === undefined ? undefined : timing.p50 < c.limit;
      table.push([fleet, c.label, ...timingCells(timing), ok === undefined ? '' : ok ? 'ok' : 'MISSED']);
      rows.push({
        bench,
        case: `${fleet} instances: ${c.label.trim()}`,
        timing,
        ...(c.goal === undefined ? {} : { goal: c.goal, ok: ok! }),
      });
    }
  }
  log(formatTable(['fleet', 'case', ...TIMING_HEADER, 'goal'], table));
  log(
    `before the ticks: VACUUM ANALYZE of rollout_targets and instances, as autovacuum would do after a plan ` +
      `(${figures.map((f) => `${f.settleSeconds.toFixed(1)} s`).join(', ')})`,
  );
  log(
    `a tick is app.reconciler.tickOnce(): stale sweep, approval expiry and the rollout step, each in its own ` +
      `transaction; "judge" ticks re-judge the same ${HEALTHY} instances (reset between ticks)`,
  );
  const [big, small] = figures;
  if (big !== undefined && small !== undefined) {
    const p50 = (xs: number[]): number => summarize(xs).p50;
    log(
      `fleet ×${(big.fleet / small.fleet).toFixed(0)}: judge tick p50 ${ms(p50(small.judgeTick))} → ${ms(p50(big.judgeTick))} ms, ` +
        `rollout step ${ms(p50(small.judgeRunner))} → ${ms(p50(big.judgeRunner))} ms, ` +
        `stale sweep ${ms(p50(small.staleSweep))} → ${ms(p50(big.staleSweep))} ms`,
    );
  }
  log(`${bench}: done in ${since(started)}`);
  log();
  return rows;
}
