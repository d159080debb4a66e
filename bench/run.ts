// `npm run bench`: runs each benchmark in turn and prints a summary table. Benchmarks print
// figures; they are not tests. Postgres runs use throwaway databases on TEST_DATABASE_URL's server
// (default postgres://postgres@127.0.0.1:5432/test), dropped at the end; without a reachable
// Postgres the Postgres runs are skipped. Knobs (environment):
//   BENCH_EVENTS         events in the Postgres log          (default 1000000)
//   BENCH_PGLITE_EVENTS  events in the PGlite log, 0 = skip   (default 1000000)
//   BENCH_CALLS          timed calls per recent_events case   (default 300)
//   BENCH_MCP_CALLS      timed calls per tool and transport   (default 1000)
import os from 'node:os';
import { benchMcpRoundTrip, IN_FLIGHT } from './mcp-round-trip.js';
import { formatTable, log, ms, rate, since, type ResultRow } from './measure.js';
import { benchRecentEvents } from './recent-events.js';
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
const CONTRAST_CALLS = 10;
const MCP_SEED_EVENTS = 10_000;

process.once('SIGINT', () => {
  console.error('\ninterrupted: dropping throwaway databases');
  void dropAllThrowawayDatabases().finally(() => process.exit(130));
});

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
    ['benchmark', 'case', 'n', 'p50 ms', 'p99 ms', 'mean ms', 'calls/s', `calls/s, ${IN_FLIGHT} in flight`, 'goal', ''],
    results.map((r) => [
      r.bench,
      r.case,
      String(r.timing.n),
      ms(r.timing.p50),
      ms(r.timing.p99),
      ms(r.timing.mean),
      rate(r.timing.perSec),
      r.parallelPerSec === undefined ? '' : rate(r.parallelPerSec),
      r.goal ?? '(contrast)',
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
