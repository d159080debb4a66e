// A platform as production runs it: `node bin/flotilla.js serve` in its own child process on its own
// throwaway Postgres database, bound to 127.0.0.1, with the bootstrap admin's MCP client over HTTP and a
// small kysely pool of the benchmark's own for what has no API (bulk inserts, reading its records).
// The child watches this process (--exit-with-pid) and is tracked for Ctrl-C; stop() also drops the database.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { connectHttpClient, type FlotillaClient } from '../src/mcp/client.js';
import { openStore, type Store } from '../src/store/db.js';
import { track } from './child-processes.js';
import { createThrowawayDatabase, type ThrowawayDatabase } from './throwaway-database.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const TRACE_MODULE = fileURLToPath(new URL('./barrier-trace.ts', import.meta.url));
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;
const TOKEN = /shown only this once:\s*(flo_[A-Za-z0-9_-]{43})/;
const LISTENING = /MCP listening at (http:\/\/127\.0\.0\.1:\d+)\/mcp/;
const silent = pino({ level: 'silent' });

export interface ServeOptions {
  name: string;
  region: string;
  tickMs: number;
  agentHeartbeatMs: number;
  peerHeartbeatMs: number;
  /** A folder: the process loads barrier-trace.ts and writes its trace there (a diagnostic). */
  traceDir?: string;
}

export interface ServedPlatform {
  name: string;
  pid: number;
  url: string;
  database: ThrowawayDatabase;
  /** The benchmark's own connection to the platform's database (pool of 2). */
  store: Store;
  /** MCP over HTTP as the bootstrap admin. */
  client: FlotillaClient;
  /** Calls a tool; a tool error throws with its text. */
  call(tool: string, args: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** The last 4,000 characters the platform wrote to stderr (warnings and errors). */
  stderr(): string;
  /** How the process ended ("code 1", "signal SIGKILL"), null while it runs (it should until stop()). */
  exited(): string | null;
  /** Stops the process (SIGTERM, SIGKILL after 10 s), closes the pool and drops the database. */
  stop(): Promise<void>;
}

/** This process's environment without Flotilla settings, so only what is passed here counts. */
function childEnv(databaseUrl: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key === 'DATABASE_URL' || key === 'LOG_LEVEL' || key === 'BENCH_FED_TRACE' || key.startsWith('FLOTILLA_')) {
      continue;
    }
    env[key] = value;
  }
  return { ...env, DATABASE_URL: databaseUrl };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

/** Starts `flotilla serve` on a new throwaway database and waits for its URL and admin token. */
export async function startServedPlatform(opts: ServeOptions): Promise<ServedPlatform> {
  const database = await createThrowawayDatabase();
  let child: ChildProcess | null = null;
  let store: Store | null = null;
  let client: FlotillaClient | null = null;
  let err = '';
  try {
    const args = ['bin/flotilla.js', 'serve', '--host', '127.0.0.1', '--port', '0', '--name', opts.name];
    args.push('--region', opts.region, '--tick-ms', String(opts.tickMs), '--log-level', 'warn');
    args.push(
      '--agent-heartbeat-ms',
      String(opts.agentHeartbeatMs),
      '--peer-heartbeat-ms',
      String(opts.peerHeartbeatMs),
    );
    // If this process dies without stopping it (SIGKILL), the platform stops itself within a second.
    args.push('--exit-with-pid', String(process.pid));
    const trace = opts.traceDir === undefined ? [] : ['--import', 'tsx', '--import', TRACE_MODULE];
    const env = childEnv(database.url);
    if (opts.traceDir !== undefined) env.BENCH_FED_TRACE = opts.traceDir;
    const spawned = track(
      spawn(process.execPath, [...trace, ...args], {
        cwd: REPO_ROOT,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    child = spawned;
    spawned.stderr!.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-4000)));
    const { url, token } = await new Promise<{ url: string; token: string }>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(
        () => reject(new Error(`${opts.name}: flotilla serve did not start in ${START_TIMEOUT_MS / 1000} s: ${err}`)),
        START_TIMEOUT_MS,
      );
      spawned.stdout!.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        const listening = LISTENING.exec(out);
        const token = TOKEN.exec(out);
        if (listening !== null && token !== null) {
          clearTimeout(timer);
          resolve({ url: listening[1]!, token: token[1]! });
        }
      });
      spawned.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${opts.name}: flotilla serve exited (${code ?? signal}) before it listened: ${err}`));
      });
    });
    store = await openStore({ kind: 'postgres', url: database.url }, { logger: silent, poolSize: 2 });
    const connected = await connectHttpClient(url, token);
    client = connected;
    const ownStore = store;
    return {
      name: opts.name,
      pid: spawned.pid!,
      url,
      database,
      store: ownStore,
      client: connected,
      async call(tool, toolArgs) {
        const result = await connected.callTool(tool, toolArgs);
        if (result.isError) throw new Error(`${opts.name}: ${tool} failed: ${result.text}`);
        return result.structured as Record<string, unknown>;
      },
      stderr: () => err,
      exited: () =>
        spawned.signalCode !== null
          ? `signal ${spawned.signalCode}`
          : spawned.exitCode !== null
            ? `code ${spawned.exitCode}`
            : null,
      async stop() {
        await connected.close().catch(() => undefined);
        await stopChild(spawned);
        await ownStore.close().catch(() => undefined);
        await database.drop();
      },
    };
  } catch (error) {
    await client?.close().catch(() => undefined);
    if (child !== null) await stopChild(child);
    await store?.close().catch(() => undefined);
    await database.drop().catch(() => undefined);
    throw error;
  }
}
