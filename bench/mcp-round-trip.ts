// Benchmark 2: one MCP tools/call round trip through the whole app, read tools against an echo tool
// on the same transport. Transports: the SDK's in-memory pair (what stdio costs, minus the pipe) and
// real loopback HTTP to /mcp (a fresh stateless server per POST, bearer auth on every request).
// The ratio read/echo is what the tool's own work (service, store, output schema) adds to the floor.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import pino from 'pino';
import { createApp, type App } from '../src/app.js';
import { connectHttpClient, type FlotillaClient } from '../src/mcp/client.js';
import { systemClock } from '../src/scheduler/clock.js';
import { openStore, type Store, type StoreKind } from '../src/store/db.js';
import echoTool from './echo-tool.js';
import { fillEventLog } from './event-log-fixture.js';
import {
  formatTable,
  log,
  rate,
  since,
  summarize,
  TIMING_HEADER,
  timingCells,
  type ResultRow,
  type Timing,
} from './measure.js';
import { createThrowawayDatabase, type ThrowawayDatabase } from './throwaway-database.js';

export interface RoundTripOptions {
  store: StoreKind;
  /** Timed calls per tool and transport. */
  calls: number;
  /** Events appended to the app's log so recent_events returns full pages of realistic rows. */
  seedEvents: number;
}

export const GOAL_RATIO = 2;
const ROUNDS = 5;
/** Calls kept in flight on one client for the throughput figure. */
export const IN_FLIGHT = 8;
const silent = pino({ level: 'silent' });

type CallTool = (name: string, args: Record<string, unknown>) => Promise<{ isError: boolean; size: number }>;

interface ToolCase {
  label: string;
  name: string;
  args: Record<string, unknown>;
}

const TOOL_CASES: ToolCase[] = [
  { label: 'echo', name: echoTool.name, args: { message: 'hello from the benchmark' } },
  { label: 'get_platform_info', name: 'get_platform_info', args: {} },
  { label: 'recent_events limit 20', name: 'recent_events', args: { limit: 20 } },
];

/**
 * Times every tool case `calls` times on one transport, one call at a time. The cases take turns in
 * ROUNDS blocks so a burst of machine noise lands on all of them rather than on one.
 */
async function timeTools(call: CallTool, calls: number): Promise<Map<string, { timing: Timing; size: number }>> {
  const samples = new Map<string, number[]>(TOOL_CASES.map((c) => [c.label, []]));
  const sizes = new Map<string, number>();
  for (const c of TOOL_CASES) {
    const first = await call(c.name, c.args);
    if (first.isError) throw new Error(`${c.name} failed in the benchmark`);
    sizes.set(c.label, first.size);
    for (let i = 0; i < 50; i++) await call(c.name, c.args); // warm-up
  }
  const perRound = Math.ceil(calls / ROUNDS);
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of TOOL_CASES) {
      const out = samples.get(c.label)!;
      for (let i = 0; i < perRound && out.length < calls; i++) {
        const start = performance.now();
        await call(c.name, c.args);
        out.push(performance.now() - start);
      }
    }
  }
  return new Map(
    TOOL_CASES.map((c) => [c.label, { timing: summarize(samples.get(c.label)!), size: sizes.get(c.label)! }]),
  );
}

/** Calls per second with IN_FLIGHT calls outstanding on one client (`total` calls in all). */
async function throughput(call: CallTool, c: ToolCase, total: number): Promise<number> {
  let issued = 0;
  const start = performance.now();
  const worker = async () => {
    while (issued < total) {
      issued++;
      const result = await call(c.name, c.args);
      if (result.isError) throw new Error(`${c.name} failed under load`);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return total / ((performance.now() - start) / 1000);
}

async function memoryClient(app: App, token: string): Promise<{ call: CallTool; close(): Promise<void> }> {
  const server = app.createMcpServer(() => app.services.operators.authenticate(token));
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: 'flotilla-bench', version: '0.0.0' });
  await client.connect(clientSide);
  return {
    async call(name, args) {
      const result = await client.callTool({ name, arguments: args });
      return { isError: result.isError === true, size: JSON.stringify(result).length };
    },
    async close() {
      await client.close();
      await server.close();
    },
  };
}

async function httpClient(app: App, token: string): Promise<{ call: CallTool; close(): Promise<void> }> {
  const client: FlotillaClient = await connectHttpClient(app.http!.url, token);
  return {
    async call(name, args) {
      const result = await client.callTool(name, args);
      // The size of the tools/call result as sent: the text mirror plus structuredContent.
      const wire = { content: [{ type: 'text', text: result.text }], structuredContent: result.structured };
      return { isError: result.isError, size: JSON.stringify(wire).length };
    },
    close: () => client.close(),
  };
}

export async function benchMcpRoundTrip(opts: RoundTripOptions): Promise<ResultRow[]> {
  const started = performance.now();
  log(`== MCP round trip, app store ${opts.store}: ${opts.calls} timed calls per tool and transport ==`);
  let database: ThrowawayDatabase | null = null;
  let store: Store | null = null;
  let app: App | null = null;
  const clients: Array<{ close(): Promise<void> }> = [];
  const rows: ResultRow[] = [];
  try {
    if (opts.store === 'postgres') {
      database = await createThrowawayDatabase();
      store = await openStore({ kind: 'postgres', url: database.url }, { logger: silent });
    } else {
      store = await openStore({ kind: 'pglite', dataDir: null }, { logger: silent });
    }
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
      { store, clock: systemClock, logger: silent, startReconciler: false, extraTools: [echoTool] },
    );
    const filled = await fillEventLog(store.db, opts.seedEvents);
    const viewer = await app.services.operators.create('bench', { name: 'bench-viewer', role: 'viewer' });
    log(
      `app on ${app.http!.url} over ${store.describe}; ${filled.count.toLocaleString('en-US')} events seeded; ` +
        `caller: operator bench-viewer (role viewer), authenticated on every call`,
    );

    const tableRows: string[][] = [];
    for (const [transport, open] of [
      ['in-memory', memoryClient],
      ['http', httpClient],
    ] as const) {
      const client = await open(app, viewer.token);
      clients.push(client);
      const results = await timeTools(client.call, opts.calls);
      const echo = results.get('echo')!.timing;
      for (const c of TOOL_CASES) {
        const { timing, size } = results.get(c.label)!;
        const parallel = await throughput(client.call, c, opts.calls);
        const isEcho = c.label === 'echo';
        const ratio = timing.p50 / echo.p50;
        const ok = isEcho ? undefined : ratio <= GOAL_RATIO;
        rows.push({
          bench: `mcp ${transport} (${opts.store})`,
          case: c.label,
          timing,
          parallelPerSec: parallel,
          ...(isEcho ? {} : { goal: `p50 ≤ ${GOAL_RATIO}× echo`, ok }),
        });
        tableRows.push([
          transport,
          c.label,
          String(size),
          ...timingCells(timing),
          rate(parallel),
          isEcho ? '1.00' : ratio.toFixed(2),
          isEcho ? '' : (timing.mean / echo.mean).toFixed(2),
          isEcho ? '' : ok ? 'ok' : 'MISSED',
        ]);
      }
    }
    log(
      formatTable(
        [
          'transport',
          'tool',
          'bytes',
          ...TIMING_HEADER,
          `calls/s, ${IN_FLIGHT} in flight`,
          'p50/echo',
          'mean/echo',
          `≤ ${GOAL_RATIO}×`,
        ],
        tableRows,
      ),
    );
    log(`MCP round trip (${opts.store}): done in ${since(started)}`);
    log();
    return rows;
  } finally {
    await Promise.allSettled(clients.map((c) => c.close()));
    await app?.close();
    await store?.close();
    await database?.drop();
  }
}
