// Benchmark 3: heartbeat ingestion over HTTP into Postgres. A platform built by createApp (HTTP on a
// loopback port, reconciler ticking, a throwaway Postgres database) with N enrolled agents takes
// POST /agents/v1/heartbeat from an undici client with many requests in flight. The same client also
// drives a no-op node:http handler in this process (the ceiling of the HTTP stack and the client),
// and the same handler answering in batches every 4 ms (the cost of a fixed gathering window alone,
// as the ingestor had before it wrote adaptively). Targets take turns, in rounds, so machine noise lands on all of them.
// The client runs in a child process (load-client.ts): in-process it would take the event loop and
// the CPU the platform needs, and the figure would be the sum of both rather than the platform's; a
// worker thread would share the platform's pid, so their CPU could not be read apart.
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { Session } from 'node:inspector/promises';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import pino from 'pino';
import { createApp, type App } from '../src/app.js';
import { openStore, type Store } from '../src/store/db.js';
import { track } from './child-processes.js';
import { createBenchFleet } from './fleet-fixture.js';
import type { LoadResult, LoadRun } from './load-client.js';
import { formatTable, log, ms, rate, since, summarize, type ResultRow, type Timing } from './measure.js';
import { cpuOfAll, machineCpu, postgresBackends, processCpuMs } from './proc-stats.js';
import { createThrowawayDatabase, type ThrowawayDatabase } from './throwaway-database.js';

export interface HeartbeatOptions {
  /** Enrolled agents; the client cycles through their tokens. */
  agents: number;
  /** Timed seconds per target, split over `rounds`. */
  seconds: number;
  /** Rounds: every target in turn in each, so machine noise lands on all of them. */
  rounds: number;
  connections: number;
  inFlight: number;
  /** When set, a CPU profile of this process during the platform's timed windows is written here. */
  cpuProfile?: string;
}

export const GOAL_RATE = 10_000;
export const GOAL_FRACTION = 0.5;
const WARMUP_MS = 2_000;
/** The fixed gathering window the ingestor once had, which the batched no-op imitates. */
const WINDOW_MS = 4;
const TARGETS = ['noop', 'batched', 'platform'] as const;
const TARGET_LABELS = {
  noop: 'no-op node:http',
  batched: `no-op, ${WINDOW_MS} ms batches`,
  platform: 'platform → Postgres',
} as const;
const silent = pino({ level: 'silent' });
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** What the no-op handler answers: a heartbeat ack's shape with one desired version, ~250 bytes. */
const NOOP_REPLY = JSON.stringify({
  instance_id: '00000000-0000-4000-8000-000000000000',
  desired_module_versions: [
    {
      module_name: 'nginx',
      version: '1.24.0',
      version_id: '00000000-0000-4000-8000-000000000001',
      digest: `sha256:${'0'.repeat(64)}`,
    },
  ],
  heartbeat_interval_ms: 15000,
});

/**
 * Reads the request body (as the platform must) and answers 200 with a small JSON. With `windowMs`,
 * answers are held and released together `windowMs` after the first one waiting, as the ingestor
 * gathers a batch: the cost of batching alone, with no store work.
 */
async function startNoopServer(windowMs?: number): Promise<{ url: string; close(): Promise<void> }> {
  let held: Array<() => void> = [];
  let timer: NodeJS.Timeout | null = null;
  const release = (): void => {
    const answers = held;
    held = [];
    timer = null;
    for (const answer of answers) answer();
  };
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const answer = (): void => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(NOOP_REPLY) });
        res.end(NOOP_REPLY);
      };
      if (windowMs === undefined) return answer();
      held.push(answer);
      timer ??= setTimeout(release, windowMs);
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        if (timer !== null) clearTimeout(timer);
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The load client in its own process; runs one load at a time. */
class LoadClient {
  private constructor(private readonly child: ChildProcess) {}

  static async start(): Promise<LoadClient> {
    const child = track(
      fork(fileURLToPath(new URL('./load-client.ts', import.meta.url)), [], {
        cwd: REPO_ROOT,
        execArgv: ['--import', 'tsx'],
        serialization: 'advanced',
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      }),
    );
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`load client exited with ${code} before it was ready`)));
    });
    return new LoadClient(child);
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Runs one load; `onTimed` is called when its warm-up ends. */
  run(load: Omit<LoadRun, 'cmd'>, onTimed: () => void): Promise<LoadResult> {
    return new Promise((resolve, reject) => {
      const onMessage = (msg: { event: string; message?: string }): void => {
        if (msg.event === 'timed') return onTimed();
        this.child.off('message', onMessage);
        this.child.off('exit', onExit);
        if (msg.event === 'done') resolve(msg as unknown as LoadResult);
        else reject(new Error(`load client failed: ${msg.message ?? msg.event}`));
      };
      const onExit = (code: number | null): void => reject(new Error(`load client exited with ${code}`));
      this.child.on('message', onMessage);
      this.child.once('exit', onExit);
      this.child.send({ cmd: 'run', ...load } satisfies LoadRun);
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    if (this.child.connected) this.child.send({ cmd: 'exit' });
    const timer = setTimeout(() => this.child.kill(), 3_000);
    await exited;
    clearTimeout(timer);
  }
}

/** Counters read when a timed window starts. */
interface Snapshot {
  server: number;
  client: number;
  pids: number[];
  postgres: number;
  machine: number;
  batches: number;
  heartbeats: number;
}

interface TargetTotals {
  accepted: number;
  other: Record<string, number>;
  errors: number;
  firstError: string | null;
  windowMs: number;
  samples: number[];
  cpu: { server: number; client: number; postgres: number; machine: number };
  batches: number;
  heartbeats: number;
  sampleBody: string | null;
}

const emptyTotals = (): TargetTotals => ({
  accepted: 0,
  other: {},
  errors: 0,
  firstError: null,
  windowMs: 0,
  samples: [],
  cpu: { server: 0, client: 0, postgres: 0, machine: 0 },
  batches: 0,
  heartbeats: 0,
  sampleBody: null,
});

export async function benchHeartbeatIngest(opts: HeartbeatOptions): Promise<ResultRow[]> {
  const started = performance.now();
  const perRoundMs = Math.round((opts.seconds * 1000) / opts.rounds);
  log(
    `== heartbeat ingestion over HTTP into Postgres: ${opts.agents.toLocaleString('en-US')} agents, ` +
      `${opts.connections} connections, ${opts.inFlight} requests in flight, ${opts.rounds} × ${perRoundMs / 1000} s per target ` +
      `(after ${WARMUP_MS / 1000} s of warm-up each), targets in turn ==`,
  );
  let database: ThrowawayDatabase | null = null;
  let store: Store | null = null;
  let app: App | null = null;
  let noop: { url: string; close(): Promise<void> } | null = null;
  let batchedNoop: { url: string; close(): Promise<void> } | null = null;
  let client: LoadClient | null = null;
  try {
    database = await createThrowawayDatabase();
    store = await openStore({ kind: 'postgres', url: database.url }, { logger: silent });
    app = await createApp(
      {
        host: '127.0.0.1',
        port: 0,
        name: 'bench-platform',
        region: 'eu-west',
        tickMs: 5000,
        databaseUrl: undefined,
        allowedOrigins: [],
      },
      { store, logger: silent },
    );
    const setupAt = new Date();
    const fleet = await createBenchFleet(app, {
      count: opts.agents,
      groupName: 'hb',
      moduleName: 'nginx',
      now: setupAt,
    });
    log(
      `platform on ${app.http!.url} over ${store.describe} (pool 10, ingestor defaults, reconciler every 5 s); ` +
        `${fleet.count.toLocaleString('en-US')} instances inserted in ${fleet.insertSeconds.toFixed(1)} s, ` +
        `group baseline nginx ${fleet.old.version}`,
    );
    noop = await startNoopServer();
    batchedNoop = await startNoopServer(WINDOW_MS);
    client = await LoadClient.start();
    const body = JSON.stringify({
      running_module_digests: { [fleet.moduleName]: fleet.old.digest },
      health: 'ok',
      status: 'running',
    });
    log(`load client: pid ${client.pid} (child process); platform and no-op server: pid ${process.pid}`);

    const totals = { noop: emptyTotals(), batched: emptyTotals(), platform: emptyTotals() };
    const profiler = opts.cpuProfile === undefined ? null : new Session();
    if (profiler !== null) {
      profiler.connect();
      await profiler.post('Profiler.enable');
    }
    const theApp = app;
    const dbName = database.name;
    for (let round = 0; round < opts.rounds; round++) {
      for (const target of TARGETS) {
        const base = { noop: noop.url, batched: batchedNoop.url, platform: theApp.http!.url }[target];
        const snap: { at: Snapshot | null } = { at: null };
        const result = await client.run(
          {
            url: `${base}/agents/v1/heartbeat`,
            tokenPrefix: 'fla_bench_',
            tokenCount: opts.agents,
            body,
            connections: opts.connections,
            inFlight: opts.inFlight,
            warmupMs: WARMUP_MS,
            durationMs: perRoundMs,
          },
          () => {
            if (profiler !== null && target === 'platform') void profiler.post('Profiler.start');
            const pids = postgresBackends(dbName);
            snap.at = {
              server: processCpuMs(process.pid) ?? 0,
              client: processCpuMs(client!.pid) ?? 0,
              pids,
              postgres: cpuOfAll(pids),
              machine: machineCpu()?.busyMs ?? 0,
              batches: theApp.ingestor.batchesWritten,
              heartbeats: theApp.ingestor.heartbeatsWritten,
            };
          },
        );
        const a = snap.at;
        if (a === null) throw new Error('the load client never reached its timed window');
        if (profiler !== null && target === 'platform') {
          const { profile } = await profiler.post('Profiler.stop');
          fs.writeFileSync(
            opts.cpuProfile!.replace(/(\.cpuprofile)?$/, `-${round + 1}.cpuprofile`),
            JSON.stringify(profile),
          );
        }
        const t = totals[target];
        t.cpu.server += (processCpuMs(process.pid) ?? 0) - a.server;
        t.cpu.client += result.cpuMs;
        t.cpu.postgres += cpuOfAll(a.pids) - a.postgres;
        t.cpu.machine += (machineCpu()?.busyMs ?? 0) - a.machine;
        t.batches += theApp.ingestor.batchesWritten - a.batches;
        t.heartbeats += theApp.ingestor.heartbeatsWritten - a.heartbeats;
        t.windowMs += result.windowMs;
        t.errors += result.errors;
        t.firstError ??= result.firstError;
        t.sampleBody ??= result.sampleBody;
        for (const [status, n] of Object.entries(result.statuses)) {
          if (status === '200') t.accepted += n;
          else t.other[status] = (t.other[status] ?? 0) + n;
        }
        for (const x of result.samples) t.samples.push(x);
      }
    }
    await theApp.ingestor.drain();
    profiler?.disconnect();

    // What the platform answered, and that every agent's heartbeat landed.
    const ack = JSON.parse(totals.platform.sampleBody ?? '{}') as {
      desired_module_versions?: Array<{ digest: string }>;
    };
    if (ack.desired_module_versions?.[0]?.digest !== fleet.old.digest) {
      throw new Error(`the platform's heartbeat answer lacks the desired version: ${totals.platform.sampleBody}`);
    }
    const beat = await sql<{ n: string }>`
      SELECT count(*) AS n FROM instances WHERE last_heartbeat_at > ${setupAt}`.execute(store.db);

    const rows: ResultRow[] = [];
    const table: string[][] = [];
    const perSec = (t: TargetTotals): number => t.accepted / (t.windowMs / 1000);
    // Cores busy over the window, and CPU µs per answered request.
    const cores = (cpuMs: number, t: TargetTotals): string =>
      `${(cpuMs / t.windowMs).toFixed(2)} (${((cpuMs * 1000) / Math.max(1, t.accepted)).toFixed(0)} µs)`;
    const noopRate = perSec(totals.noop);
    for (const target of TARGETS) {
      const t = totals[target];
      const timing: Timing = summarize(t.samples);
      const r = perSec(t);
      const isPlatform = target === 'platform';
      const ok = isPlatform ? r >= GOAL_RATE && r >= GOAL_FRACTION * noopRate : undefined;
      const nonOk = Object.entries(t.other)
        .map(([s, n]) => `${n}×${s}`)
        .join(' ');
      table.push([
        TARGET_LABELS[target],
        rate(r),
        ms(timing.p50),
        ms(timing.p99),
        ms(timing.mean),
        ms(timing.max),
        nonOk === '' ? String(t.errors) : `${nonOk} ${t.errors}`,
        cores(t.cpu.server, t),
        cores(t.cpu.client, t),
        isPlatform ? cores(t.cpu.postgres, t) : '-',
        (t.cpu.machine / t.windowMs).toFixed(2),
      ]);
      rows.push({
        bench: 'heartbeat http (postgres)',
        case: isPlatform ? `platform, ${opts.agents.toLocaleString('en-US')} agents` : TARGET_LABELS[target],
        timing,
        parallelPerSec: r,
        inFlight: opts.inFlight,
        ...(isPlatform ? { goal: `≥ ${rate(GOAL_RATE)}/s and ≥ ${GOAL_FRACTION}× no-op`, ok } : {}),
      });
    }
    log(
      formatTable(
        [
          'target',
          '200s/s',
          'p50 ms',
          'p99 ms',
          'mean ms',
          'max ms',
          'non-200, errors',
          'CPU server',
          'CPU client',
          'CPU postgres',
          'CPU machine',
        ],
        table,
      ),
    );
    const p = totals.platform;
    const platformRate = perSec(p);
    log(
      `platform / no-op = ${(platformRate / noopRate).toFixed(2)} (goal ≥ ${GOAL_FRACTION}), ` +
        `platform / batched no-op = ${(platformRate / perSec(totals.batched)).toFixed(2)}; ` +
        `${rate(platformRate)}/s (goal ≥ ${rate(GOAL_RATE)}/s): ` +
        `${platformRate >= GOAL_RATE && platformRate >= GOAL_FRACTION * noopRate ? 'ok' : 'MISSED'}`,
    );
    const perHb = (cpuMs: number, t: TargetTotals): number => (cpuMs * 1000) / Math.max(1, t.accepted);
    const platformUs = perHb(p.cpu.server, p) + perHb(p.cpu.client, p) + perHb(p.cpu.postgres, p);
    const noopUs = perHb(totals.noop.cpu.server, totals.noop) + perHb(totals.noop.cpu.client, totals.noop);
    log(
      `CPU per answered request, client included: platform ${platformUs.toFixed(0)} µs, no-op ${noopUs.toFixed(0)} µs; ` +
        `all ${os.cpus().length} cores could serve at most ~${rate((os.cpus().length * 1e6) / platformUs)}/s ` +
        `and ~${rate((os.cpus().length * 1e6) / noopUs)}/s respectively`,
    );
    log(
      `ingestor in the timed windows: ${p.batches.toLocaleString('en-US')} batches wrote ` +
        `${p.heartbeats.toLocaleString('en-US')} heartbeats (mean ${(p.heartbeats / Math.max(1, p.batches)).toFixed(1)} per statement); ` +
        `${Number(beat.rows[0]!.n).toLocaleString('en-US')} of ${fleet.count.toLocaleString('en-US')} instances heartbeated`,
    );
    log(
      `CPU: cores busy over the timed windows (2 = the whole machine) and CPU µs per 200; server = this process ` +
        `(platform or no-op handler), client = the load process, postgres = the platform's backends, machine = everything`,
    );
    const firstError = TARGETS.map((x) => totals[x].firstError).find((e) => e !== null);
    if (firstError !== undefined) log(`first client error: ${firstError}`);
    log(`heartbeat ingestion: done in ${since(started)}`);
    log();
    return rows;
  } finally {
    await client?.stop();
    await noop?.close();
    await batchedNoop?.close();
    await app?.close();
    await store?.close();
    await database?.drop();
  }
}
