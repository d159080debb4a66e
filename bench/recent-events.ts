// Benchmark 1: recent_events by kind prefix over a large event log (1,000,000 events on Postgres).
// Times EventsService.recent (the service under the recent_events tool) with limit 50 per prefix and
// for cursor pages, shows each query's plan, checks each page against a full scan, and times two
// contrasts: the naive LIKE query and the pre-fix form of listRecentEvents.
import {
  CompiledQuery,
  DummyDriver,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  sql,
} from 'kysely';
import pino from 'pino';
import { encodeCursor } from '../src/domain/paging.js';
import { systemClock } from '../src/scheduler/clock.js';
import { EventsService } from '../src/services/events-service.js';
import type { Database } from '../src/store/database.js';
import { openStore, type Store, type StoreKind } from '../src/store/db.js';
import { listRecentEvents } from '../src/store/events-repository.js';
import { migrateToLatest } from '../src/store/migrator.js';
import { fillEventLog, RARE_PREFIX, type FilledLog } from './event-log-fixture.js';
import {
  formatTable,
  log,
  ms,
  since,
  timeCalls,
  TIMING_HEADER,
  timingCells,
  type ResultRow,
  type Timing,
} from './measure.js';
import { createThrowawayDatabase, type ThrowawayDatabase } from './throwaway-database.js';

export interface RecentEventsOptions {
  store: StoreKind;
  /** Events in the log. */
  count: number;
  /** Timed calls per case. */
  calls: number;
  /** Timed calls of each slow contrast query. */
  contrastCalls: number;
}

const LIMIT = 50;
export const GOAL_P99_MS = 10;

const silent = pino({ level: 'silent' });

/** The naive query recent_events would be without event_kinds: a LIKE over the whole log. */
const NAIVE_SQL = `SELECT id, kind, at, actor, payload FROM events WHERE kind LIKE $1 ORDER BY id DESC LIMIT $2`;

/**
 * listRecentEvents as first committed (kind = k.kind, ORDER BY id DESC in the per-kind walk). Kept
 * here only to show what the planner does with it on a large log; see src/store/events-repository.ts.
 */
const PRE_FIX_SQL = `
  SELECT e.id, e.kind, e.at, e.actor, e.payload
  FROM event_kinds k
  CROSS JOIN LATERAL (
    SELECT e.id, e.kind, e.at, e.actor, e.payload FROM events e
    WHERE e.kind = k.kind
    ORDER BY e.id DESC
    LIMIT $2
  ) e
  WHERE starts_with(k.kind, $1)
  ORDER BY e.id DESC
  LIMIT $2`;

/** The SQL and parameters listRecentEvents sends, captured with a Kysely that runs nothing. */
async function compiledListRecent(opts: { prefix: string; limit: number; beforeId?: string }): Promise<CompiledQuery> {
  let captured: CompiledQuery | undefined;
  const dry = new Kysely<Database>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (db) => new PostgresIntrospector(db),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
    log: (event) => {
      captured = event.query;
    },
  });
  await listRecentEvents(dry, opts);
  await dry.destroy();
  return captured!;
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Actual Loops'?: number;
  'Actual Rows'?: number;
  'Scan Direction'?: string;
  'Parallel Aware'?: boolean;
  Plans?: PlanNode[];
}

/** One line per scan in the plan: how each table was read, how often, and the time and pages touched. */
async function explain(db: Kysely<Database>, query: string, parameters: readonly unknown[]): Promise<string> {
  const result = await db.executeQuery<{ 'QUERY PLAN': unknown }>(
    CompiledQuery.raw(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${query}`, [...parameters]),
  );
  const raw = result.rows[0]!['QUERY PLAN'];
  const doc = (typeof raw === 'string' ? JSON.parse(raw) : raw) as Array<{
    Plan: PlanNode & { 'Shared Hit Blocks'?: number; 'Shared Read Blocks'?: number };
    'Execution Time': number;
  }>;
  const top = doc[0]!;
  const scans = new Map<string, { loops: number; rows: number }>();
  const walk = (node: PlanNode) => {
    if (node['Relation Name'] !== undefined) {
      const how = `${node['Parallel Aware'] === true ? 'Parallel ' : ''}${node['Node Type']}`;
      const direction = node['Scan Direction'] === 'Backward' ? ' Backward' : '';
      const what = `${how}${direction} ${node['Index Name'] ?? `on ${node['Relation Name']}`}`;
      const seen = scans.get(what) ?? { loops: 0, rows: 0 };
      const loops = node['Actual Loops'] ?? 1;
      seen.loops += loops;
      seen.rows += Math.round((node['Actual Rows'] ?? 0) * loops);
      scans.set(what, seen);
    }
    for (const child of node.Plans ?? []) walk(child);
  };
  walk(top.Plan);
  const scanText = [...scans.entries()]
    .filter(([what]) => !what.includes('event_kinds'))
    .map(([what, s]) => `${what} ×${s.loops} → ${s.rows} rows`)
    .join('; ');
  const pages = (top.Plan['Shared Hit Blocks'] ?? 0) + (top.Plan['Shared Read Blocks'] ?? 0);
  return `${scanText} | ${pages} pages, ${ms(top['Execution Time'])} ms`;
}

async function openBenchStore(kind: StoreKind): Promise<{ store: Store; database: ThrowawayDatabase | null }> {
  if (kind === 'pglite') {
    return { store: await openStore({ kind: 'pglite', dataDir: null }, { logger: silent }), database: null };
  }
  const database = await createThrowawayDatabase();
  try {
    const store = await openStore(
      { kind: 'postgres', url: database.url },
      { logger: silent, poolSize: 2, applicationName: 'flotilla-bench' },
    );
    return { store, database };
  } catch (err) {
    await database.drop();
    throw err;
  }
}

interface Case {
  label: string;
  prefix: string;
  cursor?: string;
  /** The id the cursor stands for, to check the page against a full scan and to explain it. */
  beforeId?: string;
}

export async function benchRecentEvents(opts: RecentEventsOptions): Promise<ResultRow[]> {
  const bench = `recent_events ${opts.store} ${opts.count.toLocaleString('en-US')}`;
  const started = performance.now();
  log(`== ${bench}: EventsService.recent, limit ${LIMIT}, ${opts.calls} timed calls per case ==`);
  const { store, database } = await openBenchStore(opts.store);
  const rows: ResultRow[] = [];
  try {
    await migrateToLatest(store.db);
    log(`store: ${store.describe}${database === null ? '' : ' (throwaway, dropped at the end)'}`);
    const filled: FilledLog = await fillEventLog(store.db, opts.count);
    log(
      `filled ${filled.count.toLocaleString('en-US')} events, ${filled.kinds} kinds, ${filled.rareRows} rows under ` +
        `'${RARE_PREFIX}' (newest id ${filled.newestRareId} of ${filled.maxId}) in ${filled.seconds.toFixed(1)} s ` +
        `(INSERT … SELECT generate_series, VACUUM ANALYZE)`,
    );

    const events = new EventsService({ db: store.db, clock: systemClock, logger: silent });
    const firstModulePage = await events.recent({ kindPrefix: 'module.', limit: LIMIT });
    const lastOfFirst = firstModulePage.items.at(-1)!;
    const deepId = String(Math.floor(opts.count / 50)); // 2% from the oldest end of the log
    const cases: Case[] = [
      { label: "'' (all)", prefix: '' },
      { label: "'module.'", prefix: 'module.' },
      { label: "'module.upgrade.'", prefix: 'module.upgrade.' },
      { label: "'federation.'", prefix: 'federation.' },
      { label: `'${RARE_PREFIX}'`, prefix: RARE_PREFIX },
      {
        label: "'module.' page 2 (cursor)",
        prefix: 'module.',
        cursor: firstModulePage.cursorFor(lastOfFirst),
        beforeId: lastOfFirst.id,
      },
      {
        label: `'' page at id < ${deepId} (cursor)`,
        prefix: '',
        cursor: encodeCursor({ id: deepId }),
        beforeId: deepId,
      },
    ];

    const tableRows: string[][] = [];
    const plans: string[] = [];
    for (const c of cases) {
      const call = () =>
        events.recent({ kindPrefix: c.prefix, limit: LIMIT, ...(c.cursor === undefined ? {} : { cursor: c.cursor }) });
      // Correctness first: the page must be exactly what a full scan returns.
      const page = await call();
      const pageBefore = c.beforeId ?? null;
      const expected = await sql<{ id: string }>`
        SELECT id FROM events WHERE starts_with(kind, ${c.prefix})
        ${pageBefore === null ? sql`` : sql`AND id < ${pageBefore}::bigint`}
        ORDER BY id DESC LIMIT ${LIMIT}`.execute(store.db);
      const got = page.items.map((e) => e.id).join(',');
      if (got !== expected.rows.map((r) => r.id).join(',')) {
        throw new Error(`recent(${JSON.stringify(c.prefix)}) returned a page a full scan does not agree with`);
      }
      const timing = await timeCalls(opts.calls, call);
      const ok = timing.p99 < GOAL_P99_MS;
      rows.push({ bench, case: c.label, timing, goal: `p99 < ${GOAL_P99_MS} ms`, ok });
      tableRows.push([c.label, String(page.items.length), ...timingCells(timing), ok ? 'ok' : 'MISSED']);
      const compiled = await compiledListRecent({
        prefix: c.prefix,
        limit: LIMIT,
        ...(pageBefore === null ? {} : { beforeId: pageBefore }),
      });
      plans.push(`  ${c.label}: ${await explain(store.db, compiled.sql, compiled.parameters)}`);
    }
    log(formatTable(['prefix', 'rows', ...TIMING_HEADER, `p99 < ${GOAL_P99_MS} ms`], tableRows));
    log('plans (EXPLAIN ANALYZE, one run each; pages = shared buffers hit + read):');
    for (const p of plans) log(p);

    // Contrasts: what the design avoids.
    const contrast: Array<{ label: string; query: string; params: unknown[] }> = [
      { label: `naive LIKE '${RARE_PREFIX}%'`, query: NAIVE_SQL, params: [`${RARE_PREFIX}%`, LIMIT + 1] },
      { label: "naive LIKE 'module.%'", query: NAIVE_SQL, params: ['module.%', LIMIT + 1] },
      { label: `pre-fix form, '${RARE_PREFIX}'`, query: PRE_FIX_SQL, params: [RARE_PREFIX, LIMIT + 1] },
      { label: "pre-fix form, '' (all)", query: PRE_FIX_SQL, params: ['', LIMIT + 1] },
    ];
    const contrastRows: string[][] = [];
    const contrastPlans: string[] = [];
    for (const c of contrast) {
      const timing: Timing = await timeCalls(
        opts.contrastCalls,
        () => store.db.executeQuery(CompiledQuery.raw(c.query, c.params)),
        2,
      );
      rows.push({ bench, case: c.label, timing });
      contrastRows.push([c.label, ...timingCells(timing)]);
      contrastPlans.push(`  ${c.label}: ${await explain(store.db, c.query, c.params)}`);
    }
    log(`contrast (${opts.contrastCalls} timed calls each, not the code path recent_events takes):`);
    log(formatTable(['query', ...TIMING_HEADER], contrastRows));
    for (const p of contrastPlans) log(p);
    log(`${bench}: done in ${since(started)}`);
    log();
    return rows;
  } finally {
    await store.close();
    await database?.drop();
  }
}
