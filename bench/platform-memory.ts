// Benchmark 4: the memory of a platform process. `node bin/flotilla.js serve` (the real command, its
// reconciler ticking every 200 ms) on a throwaway Postgres database, once with an empty fleet and
// once with 100,000 enrolled instances; each answers the same MCP calls (list_instances pages,
// drift_report, get_platform_info) over HTTP, and its RSS is read from /proc/<pid>/status.
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { createApp } from '../src/app.js';
import { connectHttpClient, type FlotillaClient } from '../src/mcp/client.js';
import { openStore, type Store } from '../src/store/db.js';
import { track } from './child-processes.js';
import { createBenchFleet, insertBenchInstances, type BenchFleet } from './fleet-fixture.js';
import { formatTable, log, ms, since, type ResultRow } from './measure.js';
import { processMemory } from './proc-stats.js';
import { createThrowawayDatabase, type ThrowawayDatabase } from './throwaway-database.js';

export interface MemoryOptions {
  instances: number;
}

export const GOAL_RSS_MB = 300;
const TICK_MS = 200;
/** How long the platform ticks before the calls, and again after them. */
const SETTLE_MS = 3_000;
/** list_instances pages of 500 (the tool's maximum) walked per measurement. */
const PAGES = 20;
const DRIFT_CALLS = 5;
const silent = pino({ level: 'silent' });
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

interface PlatformProcess {
  child: ChildProcess;
  url: string;
  /** stderr of the platform, for the error message if it dies. */
  stderr: () => string;
}

/** Starts `flotilla serve` on `databaseUrl` and waits for its listening line. */
async function startPlatform(databaseUrl: string): Promise<PlatformProcess> {
  const child = track(
    spawn(
      process.execPath,
      [
        'bin/flotilla.js',
        'serve',
        '--port',
        '0',
        '--tick-ms',
        String(TICK_MS),
        '--log-level',
        'warn',
        '--name',
        'bench-memory',
      ],
      { cwd: REPO_ROOT, env: { ...process.env, DATABASE_URL: databaseUrl }, stdio: ['ignore', 'pipe', 'pipe'] },
    ),
  );
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`flotilla serve did not start in 60 s: ${err}`)), 60_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /MCP listening at (\S+)\/mcp/.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`flotilla serve exited with ${code}: ${err}`));
    });
  });
  return { child, url, stderr: () => err };
}

async function stopPlatform(p: PlatformProcess): Promise<void> {
  if (p.child.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => p.child.once('exit', () => resolve()));
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

interface MemoryReading {
  label: string;
  instances: number;
  startedMb: number;
  tickedMb: number;
  calledMb: number;
  settledMb: number;
  peakMb: number;
  /** The list_instances pages, in all (including connecting the client). */
  listMs: number;
  /** Mean drift_report call. */
  driftMs: number;
  lastTickMs: number | null;
  listed: number;
  drifted: number;
}

const rss = (pid: number): number => processMemory(pid)?.rssMb ?? Number.NaN;

async function measure(label: string, databaseUrl: string, token: string, fleet: BenchFleet): Promise<MemoryReading> {
  const platform = await startPlatform(databaseUrl);
  let client: FlotillaClient | null = null;
  try {
    const pid = platform.child.pid!;
    const startedMb = rss(pid);
    await sleep(SETTLE_MS);
    const tickedMb = rss(pid);
    const callsStarted = performance.now();
    client = await connectHttpClient(platform.url, token);
    const call = async (name: string, args: Record<string, unknown>): Promise<Record<string, unknown>> => {
      const result = await client!.callTool(name, args);
      if (result.isError) throw new Error(`${name} failed: ${result.text}`);
      return result.structured as Record<string, unknown>;
    };
    let listed = 0;
    let cursor: string | null = null;
    for (let page = 0; page < PAGES; page++) {
      const r = await call('list_instances', {
        group: fleet.groupName,
        limit: 500,
        ...(cursor === null ? {} : { cursor }),
      });
      listed += (r.instances as unknown[]).length;
      cursor = (r.next_cursor as string | null) ?? null;
      if (cursor === null) break;
    }
    const listMs = performance.now() - callsStarted;
    const driftStarted = performance.now();
    let drifted = -1;
    for (let i = 0; i < DRIFT_CALLS; i++) {
      const r = await call('drift_report', { group: fleet.groupName });
      if (r.instance_count !== fleet.count) throw new Error(`drift_report counted ${String(r.instance_count)}`);
      drifted = r.drifted_count as number;
    }
    const driftMs = (performance.now() - driftStarted) / DRIFT_CALLS;
    const info = await call('get_platform_info', {});
    const lastTickMs = (info.reconciler as { last_tick_duration_ms: number | null }).last_tick_duration_ms;
    const calledMb = rss(pid);
    await sleep(SETTLE_MS);
    const settledMb = rss(pid);
    const peakMb = processMemory(pid)?.hwmMb ?? Number.NaN;
    if (platform.child.exitCode !== null) throw new Error(`the platform died: ${platform.stderr()}`);
    return {
      label,
      instances: fleet.count,
      startedMb,
      tickedMb,
      calledMb,
      settledMb,
      peakMb,
      listMs,
      driftMs,
      lastTickMs,
      listed,
      drifted,
    };
  } finally {
    await client?.close().catch(() => undefined);
    await stopPlatform(platform);
  }
}

export async function benchPlatformMemory(opts: MemoryOptions): Promise<ResultRow[]> {
  const started = performance.now();
  log(
    `== platform memory: flotilla serve (--tick-ms ${TICK_MS}) on Postgres, empty vs ` +
      `${opts.instances.toLocaleString('en-US')} instances ==`,
  );
  let database: ThrowawayDatabase | null = null;
  let store: Store | null = null;
  try {
    database = await createThrowawayDatabase();
    store = await openStore({ kind: 'postgres', url: database.url }, { logger: silent, poolSize: 2 });
    // Set up through the app's services (versions, group, baseline, a viewer), then let it go.
    const setup = await createApp(
      {
        host: '127.0.0.1',
        port: 0,
        name: 'bench-setup',
        region: 'eu-west',
        tickMs: 5000,
        databaseUrl: undefined,
        allowedOrigins: [],
      },
      { store, logger: silent, http: false, startReconciler: false },
    );
    const fleet = await createBenchFleet(setup, { count: 0, groupName: 'fleet', moduleName: 'agent', now: new Date() });
    const viewer = await setup.services.operators.create('bench', { name: 'bench-viewer', role: 'viewer' });
    await setup.close();

    const idle = await measure('empty fleet', database.url, viewer.token, fleet);
    const insertSeconds = await insertBenchInstances(store.db, {
      groupId: fleet.groupId,
      groupName: fleet.groupName,
      enrollmentTokenId: fleet.enrollmentTokenId,
      running: { [fleet.moduleName]: fleet.old.digest },
      from: 1,
      count: opts.instances,
      // A fresh heartbeat: the stale sweep has nothing to mark while the platform runs.
      now: new Date(Date.now() + 60_000),
    });
    log(
      `${opts.instances.toLocaleString('en-US')} instances inserted in ${insertSeconds.toFixed(1)} s ` +
        `(one INSERT … SELECT generate_series, VACUUM ANALYZE)`,
    );
    const full = await measure(`${opts.instances.toLocaleString('en-US')} instances`, database.url, viewer.token, {
      ...fleet,
      count: opts.instances,
    });

    const mb = (x: number): string => (Number.isFinite(x) ? x.toFixed(0) : '-');
    log(
      formatTable(
        [
          'fleet',
          'RSS started MB',
          `after ${SETTLE_MS / 1000} s of ticks`,
          'after calls',
          `${SETTLE_MS / 1000} s later`,
          'peak (VmHWM)',
          'list pages ms',
          'drift_report ms',
          'last tick ms',
          'listed',
          'drifted',
          `< ${GOAL_RSS_MB} MB`,
        ],
        [idle, full].map((r) => [
          r.label,
          mb(r.startedMb),
          mb(r.tickedMb),
          mb(r.calledMb),
          mb(r.settledMb),
          mb(r.peakMb),
          ms(r.listMs),
          ms(r.driftMs),
          r.lastTickMs === null ? '-' : String(r.lastTickMs),
          r.listed.toLocaleString('en-US'),
          r.drifted.toLocaleString('en-US'),
          r === full ? (r.peakMb < GOAL_RSS_MB ? 'ok' : 'MISSED') : '',
        ]),
      ),
    );
    log(
      `calls: ${PAGES} list_instances pages of 500, ${DRIFT_CALLS} drift_report of the whole group, get_platform_info, ` +
        `over HTTP as a viewer; RSS from /proc/<pid>/status of the serve process`,
    );
    log(`platform memory: done in ${since(started)}`);
    log();
    const figure = (r: MemoryReading): string => `RSS ${mb(r.settledMb)} MB, peak ${mb(r.peakMb)} MB`;
    return [
      { bench: 'platform memory (postgres)', case: 'flotilla serve, empty fleet', figure: figure(idle) },
      {
        bench: 'platform memory (postgres)',
        case: `flotilla serve, ${full.label}`,
        figure: figure(full),
        goal: `peak RSS < ${GOAL_RSS_MB} MB`,
        ok: full.peakMb < GOAL_RSS_MB,
      },
    ];
  } finally {
    await store?.close();
    await database?.drop();
  }
}
