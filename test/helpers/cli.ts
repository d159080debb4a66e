// The real `flotilla` command as a child process, for CLI and start-up tests: one-shot runs, long-running
// `serve` children read line by line with deadlines (never fixed sleeps), and temp folders for PGlite.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectHttpClient, type FlotillaClient } from '../../src/mcp/client.js';
import type { StoreKind } from '../../src/store/db.js';
import { createTestDatabase } from './store.js';

export const FLOTILLA_BIN = fileURLToPath(new URL('../../bin/flotilla.js', import.meta.url));

/** A token as `flotilla serve` and `flotilla operators add` print it. */
export const TOKEN_PATTERN = /flo_[A-Za-z0-9_-]{43}/;

/** Every token printed in some output. */
export function tokensIn(text: string): string[] {
  return text.match(new RegExp(TOKEN_PATTERN.source, 'g')) ?? [];
}

/**
 * The environment a child gets: this process's, minus every Flotilla setting (DATABASE_URL, LOG_LEVEL,
 * FLOTILLA_*), so only what a test passes counts. Never lets a child fall back to ./.flotilla.
 */
export function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key === 'DATABASE_URL' || key === 'TEST_DATABASE_URL' || key === 'LOG_LEVEL' || key.startsWith('FLOTILLA_'))
      continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

export interface TempDir {
  path: string;
  /** A pglite:// URL for a data folder inside this temp dir. */
  pgliteUrl(name?: string): string;
  remove(): void;
}

export function makeTempDir(prefix = 'flotilla-test-'): TempDir {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return {
    path: dir,
    pgliteUrl: (name = 'data') => `pglite://${path.join(dir, name)}`,
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The non-empty lines of some output. */
export function lines(text: string): string[] {
  return text.split('\n').filter((l) => l.trim() !== '');
}

/** A running `flotilla` child whose output is collected as it arrives. */
export class FlotillaChild {
  readonly process: ChildProcess;
  stdout = '';
  stderr = '';
  private exitResult: CliResult | null = null;
  private readonly exitPromise: Promise<CliResult>;
  private readonly waiters = new Set<() => void>();

  constructor(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}) {
    this.process = spawn(process.execPath, [FLOTILLA_BIN, ...args], {
      env: opts.env ?? cliEnv(),
      cwd: opts.cwd ?? os.tmpdir(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.process.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
      this.notify();
    });
    this.process.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
      this.notify();
    });
    this.exitPromise = new Promise((resolve) => {
      const settle = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (this.exitResult !== null) return;
        this.exitResult = { code, signal, stdout: this.stdout, stderr: this.stderr };
        this.notify();
        resolve(this.exitResult);
      };
      // A child that could not be spawned at all reads as one that failed, with the reason on stderr.
      this.process.once('error', (err) => {
        this.stderr += `spawn failed: ${err.message}\n`;
        settle(null, null);
      });
      this.process.once('close', settle);
    });
  }

  get pid(): number {
    return this.process.pid!;
  }

  get exited(): boolean {
    return this.exitResult !== null;
  }

  private notify(): void {
    for (const waiter of this.waiters) waiter();
  }

  /** Resolves with the first match of `pattern` in stdout; rejects if the child exits first or time runs out. */
  waitForStdout(pattern: RegExp, timeoutMs = 60_000): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const match = this.stdout.match(pattern);
        if (match !== null) return finish(() => resolve(match));
        if (this.exitResult !== null)
          return finish(() => reject(new Error(`flotilla exited (${this.describeExit()}) before printing ${pattern}`)));
      };
      const timer = setTimeout(
        () => finish(() => reject(new Error(`no ${pattern} on stdout within ${timeoutMs} ms; ${this.describeExit()}`))),
        timeoutMs,
      );
      const finish = (settle: () => void): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        settle();
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Waits for the child to exit; kills it with SIGKILL and throws if it outlives the deadline. */
  async waitForExit(timeoutMs = 60_000): Promise<CliResult> {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      this.process.kill('SIGKILL');
    }, timeoutMs);
    try {
      const result = await this.exitPromise;
      if (timedOut) throw new Error(`flotilla did not exit within ${timeoutMs} ms; ${this.describeExit()}`);
      return result;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends a signal (SIGTERM for a clean stop, SIGKILL for a crash) and waits for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 60_000): Promise<CliResult> {
    if (!this.exited) this.process.kill(signal);
    return this.waitForExit(timeoutMs);
  }

  private describeExit(): string {
    const status =
      this.exitResult === null ? 'still running' : `code ${this.exitResult.code} signal ${this.exitResult.signal}`;
    return `${status}; stderr: ${this.stderr.trim().slice(0, 2000) || '(empty)'}`;
  }
}

/** Children started by a test file, so afterEach can make sure none outlives its test. */
export class ChildSet {
  private readonly children: FlotillaChild[] = [];

  start(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): FlotillaChild {
    const child = new FlotillaChild(args, opts);
    this.children.push(child);
    return child;
  }

  /** Runs a command to completion. */
  run(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
    return this.start(args, opts).waitForExit(opts.timeoutMs);
  }

  async killAll(): Promise<void> {
    const running = this.children.splice(0).filter((c) => !c.exited);
    await Promise.all(running.map((c) => c.stop('SIGKILL', 10_000)));
  }
}

/** A port nothing listens on right now (for a platform restarted on the same one). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A `flotilla serve` child on a fixed port with its bootstrap admin's MCP client; restartable. */
export interface ServedPlatform {
  name: string;
  /** The serve arguments, reused by a restart (same port, same store). */
  args: string[];
  url: string;
  token: string;
  child: FlotillaChild;
  client: FlotillaClient;
}

/** Starts `flotilla serve` on a free port named `name`, waits for its admin token and URL, connects. */
export async function startServed(children: ChildSet, name: string, args: string[]): Promise<ServedPlatform> {
  const fullArgs = ['serve', '--port', String(await freePort()), '--name', name, ...args];
  const child = children.start(fullArgs, { env: cliEnv() });
  const [, token] = await child.waitForStdout(new RegExp(`shown only this once:\\s*(${TOKEN_PATTERN.source})`));
  const [, url] = await child.waitForStdout(/MCP listening at (http:\/\/\S+)\/mcp/);
  return { name, args: fullArgs, url: url!, token: token!, child, client: await connectHttpClient(url!, token!) };
}

/** Starts the platform again with the same arguments (port and store) and reconnects its client. */
export async function restartServed(children: ChildSet, platform: ServedPlatform): Promise<void> {
  platform.child = children.start(platform.args, { env: cliEnv() });
  await platform.child.waitForStdout(/MCP listening at /);
  platform.client = await connectHttpClient(platform.url, platform.token);
}

/** Stores for platform processes: PGlite folders in `tmp`, or a fresh Postgres database each. */
export interface ProcessDatabases {
  url(name: string): Promise<string>;
  /** Drops the Postgres databases made so far (the PGlite folders go with `tmp`). */
  dropAll(): Promise<void>;
}

export function processDatabases(kind: StoreKind, tmp: TempDir): ProcessDatabases {
  const drops: Array<() => Promise<void>> = [];
  return {
    async url(name) {
      if (kind === 'pglite') return tmp.pgliteUrl(name);
      const db = await createTestDatabase();
      drops.push(() => db.drop());
      return db.url;
    },
    async dropAll() {
      for (const drop of drops.splice(0)) await drop();
    },
  };
}
