// Benchmark 6: the barrier of a synchronized federated rollout. Five platforms in this process, each on
// a throwaway Postgres database with its own HTTP listener on loopback, real clocks, the reconciler
// ticking every 200 ms: the origin proposes a peering to the four others (they accept), and creates one
// synchronized rollout across all five (include_local). Each platform has 1,000 instances inserted like
// fleet-fixture.ts does; the instances a batch starts heartbeat over HTTP (POST /agents/v1/heartbeat,
// the target digest, health ok) after a short apply delay. Measured from each platform's own event log:
// for every barrier (batch k → k+1), the time from the slowest leg completing batch k (its
// module.upgrade.batch_completed `at`) to the last leg starting batch k+1 (batch_started `at`).
import { sql } from 'kysely';
import pino from 'pino';
import { Agent, request } from 'undici';
import { createApp, type App } from '../src/app.js';
import { ROLLING_UPGRADE_ACTION } from '../src/domain/approvals.js';
import type { Caller } from '../src/domain/roles.js';
import { openStore, type Store } from '../src/store/db.js';
import { agentToken, createBenchFleet, type BenchFleet } from './fleet-fixture.js';
import { formatTable, log, ms, since, summarize, type ResultRow } from './measure.js';
import { createThrowawayDatabase, type ThrowawayDatabase } from './throwaway-database.js';

export interface FederatedBarrierOptions {
  /** Platforms in all: the origin (with its own leg) and platforms - 1 peers. */
  platforms: number;
  /** Instances per platform. */
  instances: number;
  /** Reconciler tick of every platform. */
  tickMs: number;
  /** Batch size of the `batch` strategy, percent of each platform's group. */
  batchPct: number;
}

/** An in-flight instance reports the target digest healthy this long after its batch started. */
const APPLY_DELAY_MS = 300;
/** How often the driver looks for instances a batch started (as an agent's next heartbeat would learn it). */
const POLL_MS = 100;
/** An instance still upgrading this long after its heartbeat heartbeats again. */
const RESEND_MS = 2_000;
/** Instances not in flight send nothing; told to heartbeat every minute, none goes stale during the run. */
const AGENT_HEARTBEAT_MS = 60_000;
const PEER_HEARTBEAT_MS = 1_000;
const ROLLOUT_TIMEOUT_MS = 300_000;
const GROUP = 'fleet';
const MODULE = 'agent';
const silent = pino({ level: 'silent' });

interface Platform {
  name: string;
  database: ThrowawayDatabase;
  store: Store;
  app: App;
  admin: Caller;
  fleet: BenchFleet | null;
  /** The origin's peer row id on this platform (targets only). */
  originPeerId: string | null;
}

/**
 * Heartbeats the instances a platform's leg started: every POLL_MS it reads the leg's upgrading targets,
 * and each new one sends, APPLY_DELAY_MS later, one heartbeat over HTTP with the target digest, health ok.
 */
class InFlightAgents {
  private readonly http = new Agent({ connections: 16, keepAliveTimeout: 30_000 });
  private readonly sentAt = new Map<string, number>();
  private readonly pending = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private polling = false;
  heartbeats = 0;
  errors = 0;
  lastError: string | null = null;

  constructor(
    private readonly p: Platform,
    private readonly federatedRolloutId: string,
    private readonly digest: string,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.poll(), POLL_MS);
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await Promise.allSettled([...this.pending]);
    await this.http.close();
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const rows = await sql<{ name: string }>`
        SELECT i.name FROM rollout_targets t
        JOIN rollouts r ON r.id = t.rollout_id
        JOIN instances i ON i.id = t.instance_id
        WHERE r.federation_rollout_ref = ${this.federatedRolloutId} AND t.state = 'upgrading'`.execute(this.p.store.db);
      const now = Date.now();
      for (const { name } of rows.rows) {
        const sent = this.sentAt.get(name);
        if (sent !== undefined && now - sent < RESEND_MS) continue;
        this.sentAt.set(name, now);
        const job = this.beatLater(name, sent === undefined ? APPLY_DELAY_MS : 0);
        this.pending.add(job);
        void job.finally(() => this.pending.delete(job));
      }
    } catch (err) {
      this.errors += 1;
      this.lastError = (err as Error).message;
    } finally {
      this.polling = false;
    }
  }

  private async beatLater(name: string, delayMs: number): Promise<void> {
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    const index = Number(name.slice(name.lastIndexOf('-') + 1));
    try {
      const res = await request(new URL('/agents/v1/heartbeat', this.p.app.http!.url), {
        method: 'POST',
        dispatcher: this.http,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${agentToken(index)}` },
        body: JSON.stringify({ running_module_digests: { [MODULE]: this.digest }, health: 'ok', status: 'running' }),
      });
      await res.body.dump();
      if (res.statusCode !== 200) throw new Error(`heartbeat of ${name} answered ${res.statusCode}`);
      this.heartbeats += 1;
    } catch (err) {
      this.errors += 1;
      this.lastError = (err as Error).message;
    }
  }
}

async function startPlatform(name: string, opts: FederatedBarrierOptions): Promise<Platform> {
  const database = await createThrowawayDatabase();
  let store: Store | null = null;
  try {
    store = await openStore({ kind: 'postgres', url: database.url }, { logger: silent, poolSize: 5 });
    const app = await createApp(
      {
        host: '127.0.0.1',
        port: 0,
        name,
        region: 'eu-west',
        tickMs: opts.tickMs,
        agentHeartbeatMs: AGENT_HEARTBEAT_MS,
        peerHeartbeatMs: PEER_HEARTBEAT_MS,
        databaseUrl: undefined,
        allowedOrigins: [],
      },
      { store, logger: silent },
    );
    const admin = await app.services.operators.callerByName(app.bootstrap!.operator.name);
    return { name, database, store, app, admin, fleet: null, originPeerId: null };
  } catch (err) {
    await store?.close();
    await database.drop();
    throw err;
  }
}

/** The leg's batch_started and batch_completed events on its own platform. */
async function batchEvents(p: Platform, federatedRolloutId: string) {
  const rows = await sql<{ kind: string; batch: number; at: Date }>`
    SELECT e.kind, (e.payload ->> (CASE WHEN e.kind = 'module.upgrade.barrier_set' THEN 'barrier_batch' ELSE 'batch_index' END))::int AS batch, e.at
    FROM events e
    WHERE e.kind IN ('module.upgrade.batch_started', 'module.upgrade.batch_completed', 'module.upgrade.barrier_set')
      AND (e.payload ->> 'rollout_id')::uuid IN (SELECT id FROM rollouts WHERE federation_rollout_ref = ${federatedRolloutId})
    ORDER BY e.at`.execute(p.store.db);
  const started = new Map<number, Date>();
  const completed = new Map<number, Date>();
  /** When the leg's barrier was raised to each batch (the first time). */
  const raised = new Map<number, Date>();
  for (const r of rows.rows) {
    if (r.batch === null) continue;
    const into =
      r.kind === 'module.upgrade.batch_started'
        ? started
        : r.kind === 'module.upgrade.barrier_set'
          ? raised
          : completed;
    if (!into.has(r.batch)) into.set(r.batch, new Date(r.at));
  }
  return { started, completed, raised };
}

/**
 * Counts the signed calls a platform sends with `PeerCalls.request` (status polls, set_barrier, prechecks,
 * leg progress pushes, heartbeats) by operation from now on, and when it sent each leg progress push: the
 * method is wrapped, nothing else changes.
 */
function countRequests(p: Platform): { counts: Map<string, number>; pushes: number[] } {
  const counts = new Map<string, number>();
  /** When each rollouts.leg_progress push was sent (Date.now()). */
  const pushes: number[] = [];
  const calls = p.app.services.federation.calls;
  const original = calls.request.bind(calls);
  calls.request = (peer, operation, args, opts) => {
    counts.set(operation, (counts.get(operation) ?? 0) + 1);
    if (operation === 'rollouts.leg_progress') pushes.push(Date.now());
    return original(peer, operation, args, opts);
  };
  return { counts, pushes };
}

/** Outbox deliveries (attempts) of entries `p` queued at or after `since`, by operation. */
async function outboxAttempts(p: Platform, since: Date): Promise<Map<string, number>> {
  const rows = await sql<{ operation: string; n: string }>`
    SELECT operation, sum(attempts) AS n FROM federation_outbox WHERE created_at >= ${since} GROUP BY 1`.execute(
    p.store.db,
  );
  return new Map(rows.rows.map((r) => [r.operation, Number(r.n)]));
}

const describeCounts = (m: Map<string, number>): string =>
  [...m]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');

export async function benchFederatedBarrier(opts: FederatedBarrierOptions): Promise<ResultRow[]> {
  const bench = 'federated barrier';
  const names = ['origin', ...Array.from({ length: opts.platforms - 1 }, (_, i) => `peer-${i + 1}`)];
  log(`== ${bench}: synchronized rollout across ${opts.platforms} platforms × ${opts.instances} instances ==`);
  log(
    `  Postgres throwaway database per platform, HTTP on loopback, real clocks, tick ${opts.tickMs} ms, ` +
      `batch ${opts.batchPct} %, in-flight instances heartbeat ${APPLY_DELAY_MS} ms after their batch starts ` +
      `(found within ${POLL_MS} ms), peer heartbeat ${PEER_HEARTBEAT_MS} ms`,
  );
  const platforms: Platform[] = [];
  const drivers: InFlightAgents[] = [];
  try {
    const setupStarted = performance.now();
    for (const name of names) platforms.push(await startPlatform(name, opts));
    const [origin, ...peers] = platforms as [Platform, ...Platform[]];
    for (const p of peers) {
      const proposed = await origin.app.services.federation.propose(origin.admin, {
        name: p.name,
        spawnMode: 'autonomous_peer',
      });
      const onPeer = await p.app.services.federation.acceptFromParent(p.admin, {
        parentUrl: origin.app.http!.url,
        acceptanceToken: proposed.acceptanceToken,
      });
      p.originPeerId = onPeer.id;
    }
    for (const p of platforms) {
      p.fleet = await createBenchFleet(p.app, {
        count: opts.instances,
        groupName: GROUP,
        moduleName: MODULE,
        now: new Date(),
      });
      await p.app.services.policies.set(p.admin, { action: ROLLING_UPGRADE_ACTION, mode: 'auto', fourEyes: false });
    }
    log(
      `  ${platforms.length} platforms started, ${peers.length} peerings active, ` +
        `${(platforms.length * opts.instances).toLocaleString('en-US')} instances inserted (${since(setupStarted)})`,
    );

    // The rollout: created as the origin's bootstrap admin, who exists on every platform by that name.
    const t0 = new Date();
    const requests = platforms.map(countRequests);
    const createStarted = performance.now();
    const eluBefore = performance.eventLoopUtilization();
    const created = await origin.app.services.federatedRollouts.create(origin.admin, {
      moduleName: MODULE,
      targetVersion: origin.fleet!.target.version,
      peers: peers.map((p) => p.name),
      includeLocal: true,
      group: GROUP,
      perPeerGroup: {},
      strategy: { type: 'batch', batch_pct: opts.batchPct },
      coordination: 'synchronized',
      maxConsecutiveFailures: 5,
      healthTimeoutSec: 120,
    });
    const createMs = performance.now() - createStarted;
    const id = created.rollout.id;
    for (const p of platforms) {
      const d = new InFlightAgents(p, id, p.fleet!.target.digest);
      d.start();
      drivers.push(d);
    }
    const deadline = Date.now() + ROLLOUT_TIMEOUT_MS;
    let view = created;
    // Each platform's reconciler ticks, read from its last report: a tick starts tickMs after the last ended.
    const ticks = platforms.map(() => ({ last: 0, at: [] as number[], durations: [] as number[] }));
    const sampleTicks = (): void => {
      platforms.forEach((p, i) => {
        const t = p.app.reconciler.lastTick;
        if (t === null || t.at.getTime() === ticks[i]!.last) return;
        ticks[i]!.last = t.at.getTime();
        ticks[i]!.at.push(t.at.getTime());
        ticks[i]!.durations.push(t.durationMs);
      });
    };
    for (;;) {
      sampleTicks();
      view = await origin.app.services.federatedRollouts.get(id);
      if (view.rollout.state !== 'running') break;
      if (Date.now() > deadline) throw new Error(`the rollout did not finish in ${ROLLOUT_TIMEOUT_MS / 1000} s`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const finishedWall = performance.now();
    const elu = performance.eventLoopUtilization(eluBefore);
    for (const d of drivers) await d.stop();
    if (view.rollout.state !== 'completed') {
      throw new Error(
        `the federated rollout ended ${view.rollout.state}: ${view.rollout.reason ?? ''} ` +
          view.legs.map((l) => `${l.peerName} ${l.state} ${l.lastError ?? ''}`).join('; '),
      );
    }
    // Late pushes and polls settle; then the figures come from each platform's own records.
    await new Promise((resolve) => setTimeout(resolve, 2 * opts.tickMs));

    const events = await Promise.all(platforms.map((p) => batchEvents(p, id)));
    const pushTimes = new Map(platforms.map((p, i) => [p.name, requests[i]!.pushes]));
    const batchCount = view.legs[0]!.batchCount ?? 0;
    interface Barrier {
      k: number;
      slowest: string;
      completedAt: number;
      /** ms after completedAt: the slowest leg's platform sent its push (null: the origin's own leg, no push). */
      push: number | null;
      firstRaise: number;
      lastRaise: number;
      firstStart: number;
      /** The last leg to start batch k+1, and when (ms after completedAt): the wait. */
      last: string;
      wait: number;
    }
    const barriers: Barrier[] = [];
    const at = (m: Map<number, Date>, k: number, who: string, what: string): number => {
      const d = m.get(k);
      if (d === undefined) throw new Error(`${who} has no ${what} event for batch ${k}`);
      return d.getTime();
    };
    for (let k = 0; k + 1 < batchCount; k++) {
      const legs = platforms.map((p, i) => ({
        name: p.name,
        completed: at(events[i]!.completed, k, p.name, 'batch_completed'),
        started: at(events[i]!.started, k + 1, p.name, 'batch_started'),
        raised: at(events[i]!.raised, k + 1, p.name, 'barrier_set'),
      }));
      const slowest = legs.reduce((a, b) => (b.completed > a.completed ? b : a));
      const last = legs.reduce((a, b) => (b.started > a.started ? b : a));
      const c = slowest.completed;
      const push = pushTimes.get(slowest.name)?.find((t) => t >= c) ?? null;
      barriers.push({
        k,
        slowest: slowest.name,
        completedAt: c,
        push: push === null ? null : push - c,
        firstRaise: Math.min(...legs.map((l) => l.raised)) - c,
        lastRaise: Math.max(...legs.map((l) => l.raised)) - c,
        firstStart: Math.min(...legs.map((l) => l.started)) - c,
        last: last.name,
        wait: last.started - c,
      });
    }
    const t0Ms = Math.min(...events.map((e) => e.started.get(0)?.getTime() ?? Infinity));
    const plus = (x: number | null): string => (x === null ? 'local' : `+${x}`);
    log(
      formatTable(
        [
          'barrier',
          'slowest leg',
          'completed k at',
          'push sent',
          'first raised',
          'last raised',
          'first start',
          'last start = wait ms',
          'last leg',
          `≤ ${opts.tickMs} ms`,
        ],
        barriers.map((b) => [
          `${b.k} → ${b.k + 1}`,
          b.slowest,
          `${((b.completedAt - t0Ms) / 1000).toFixed(3)} s`,
          plus(b.push),
          plus(b.firstRaise),
          plus(b.lastRaise),
          plus(b.firstStart),
          String(b.wait),
          b.last,
          b.wait <= opts.tickMs ? 'yes' : 'NO',
        ]),
      ),
    );
    log(
      '  (ms after the slowest leg completed batch k, by the `at` of its batch_completed event, which is its ' +
        "tick's start; push sent: its platform sent rollouts.leg_progress to the origin after that tick committed " +
        "(local: the origin's own leg, which sends none); raised: a leg's module.upgrade.barrier_set)",
    );
    const waits = summarize(barriers.map((b) => b.wait));
    const met = barriers.every((b) => b.wait <= opts.tickMs);

    // Peer calls the origin made during the rollout: signed requests (counted by wrapping PeerCalls.request)
    // and outbox deliveries; peer heartbeats (every PEER_HEARTBEAT_MS, not rollout work) apart.
    const originRequests = new Map(requests[0]!.counts);
    const heartbeatsToPeers = originRequests.get('heartbeat') ?? 0;
    originRequests.delete('heartbeat');
    const originOutbox = await outboxAttempts(origin, t0);
    const requestCalls = [...originRequests.values()].reduce((a, b) => a + b, 0);
    const outboxCalls = [...originOutbox.values()].reduce((a, b) => a + b, 0);
    const callsToPeers = requestCalls + outboxCalls;
    const pushes = requests.slice(1).reduce((s, r) => s + r.pushes.length, 0);
    // set_barrier calls a peer applied without a change (the barrier was already there): audited there.
    let unchanged = 0;
    for (const p of peers) {
      const r = await sql<{ n: string }>`
        SELECT count(*) AS n FROM peer_audit_log
        WHERE federation_peer_id = ${p.originPeerId} AND action = 'federated_rollout.set_barrier'
          AND payload ->> 'changed' = 'false' AND at >= ${t0}`.execute(p.store.db);
      unchanged += Number(r.rows[0]!.n);
    }
    const totalSeconds = (view.rollout.finishedAt!.getTime() - view.rollout.createdAt.getTime()) / 1000;
    const heartbeats = drivers.reduce((s, d) => s + d.heartbeats, 0);
    const hbErrors = drivers.reduce((s, d) => s + d.errors, 0);

    log();
    log(
      `  barrier wait beyond the slowest leg over ${barriers.length} barriers: min ${waits.n === 0 ? '-' : Math.min(...barriers.map((b) => b.wait))} ms, ` +
        `median ${ms(waits.p50)} ms, max ${ms(waits.max)} ms; goal ≤ ${opts.tickMs} ms (one tick): ${met ? 'met' : 'MISSED'}`,
    );
    log(
      `  rollout: ${batchCount} batches per leg, ${view.legs.length} legs completed, ` +
        `${view.legs.reduce((s, l) => s + l.healthyTotal, 0).toLocaleString('en-US')} instances healthy; ` +
        `created in ${ms(createMs)} ms (prechecks included), created → completed ${totalSeconds.toFixed(2)} s ` +
        `(wall ${((finishedWall - createStarted) / 1000).toFixed(2)} s)`,
    );
    log(
      `  peer calls the origin made: ${callsToPeers} — requests: ${describeCounts(originRequests)}; ` +
        `outbox deliveries: ${describeCounts(originOutbox) || 'none'} (besides ${heartbeatsToPeers} peer heartbeats)`,
    );
    log(
      `  leg progress pushes the ${peers.length} peers sent the origin: ${pushes}; ` +
        `set_barrier calls that found the barrier already set: ${unchanged}`,
    );
    log(
      `  this process's event loop (all platforms, their HTTP servers and clients, the heartbeat driver) was ` +
        `busy ${(elu.utilization * 100).toFixed(0)} % of the rollout`,
    );
    log(
      '  reconciler ticks during the rollout (duration p50 / max ms; period p50 ms, start to start): ' +
        platforms
          .map((p, i) => {
            const d = summarize(ticks[i]!.durations);
            const at = ticks[i]!.at;
            const gaps = summarize(at.slice(1).map((t, j) => t - at[j]!));
            return `${p.name} ${ms(d.p50)} / ${d.max} (${ms(gaps.p50)})`;
          })
          .join(', '),
    );
    log(
      `  in-flight heartbeats sent: ${heartbeats} (${hbErrors} errors${hbErrors > 0 ? `, last: ${drivers.find((d) => d.lastError)?.lastError}` : ''})`,
    );
    log();

    const label = `${opts.platforms} platforms × ${opts.instances}, tick ${opts.tickMs} ms`;
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
        figure: `${totalSeconds.toFixed(1)} s; ${callsToPeers} peer calls to peers, ${pushes} pushes back`,
      },
    ];
  } finally {
    for (const d of drivers) await d.stop().catch(() => undefined);
    for (const p of platforms.reverse()) {
      await p.app.close().catch(() => undefined);
      await p.store.close().catch(() => undefined);
      await p.database.drop().catch(() => undefined);
    }
  }
}
