// The default spawn provider: a child platform is `flotilla serve` on a free loopback port, in a folder
// of its own under the children directory, detached in its own process group with its output appended
// to platform.log, told to exit when this process is gone. Its bootstrap file (0600) carries the
// acceptance token; the token is never on a command line or in an environment variable.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UnavailableError } from '../../errors.js';
import type { BootstrapFile, ChildSpec, PlatformProvider, StartedChild, StopOutcome } from './provider.js';

const FLOTILLA_BIN = fileURLToPath(new URL('../../../bin/flotilla.js', import.meta.url));

export const BOOTSTRAP_FILE_NAME = 'bootstrap.json';
export const PLATFORM_LOG_NAME = 'platform.log';

export interface LocalProcessOptions {
  childrenDir: string;
  /** The process children watch (`--exit-with-pid`); default this one. */
  parentPid?: number;
  /** Waits between liveness checks while stopping; default a real timer. */
  sleep?: (ms: number) => Promise<void>;
}

export class LocalProcessProvider implements PlatformProvider {
  readonly name = 'local_process';
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly opts: LocalProcessOptions) {
    this.sleep = opts.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  async start(spec: ChildSpec): Promise<StartedChild> {
    const dir = path.resolve(this.opts.childrenDir, spec.id);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const port = await freeLoopbackPort();
    const bootstrapPath = path.join(dir, BOOTSTRAP_FILE_NAME);
    const bootstrap: BootstrapFile = {
      version: 1,
      child_instance_id: spec.id,
      parent_url: spec.parentUrl,
      acceptance_token: spec.acceptanceToken,
      contract_version: spec.contractVersion,
      spawn_mode: spec.spawnMode,
      child_name: spec.name,
      region: spec.region,
      created_at: new Date().toISOString(),
    };
    fs.writeFileSync(bootstrapPath, `${JSON.stringify(bootstrap, null, 2)}\n`, { mode: 0o600, flag: 'wx' });

    const args = [
      FLOTILLA_BIN,
      'serve',
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--name',
      spec.name,
      ...(spec.region === null ? [] : ['--region', spec.region]),
      // A cluster member's Postgres URL may hold a password: it goes in the environment, not argv.
      ...(spec.sharedDatabaseUrl === null ? ['--database-url', `pglite://${path.join(dir, 'data')}`] : []),
      '--tick-ms',
      String(spec.tickMs),
      '--log-level',
      spec.logLevel,
      '--bootstrap-file',
      bootstrapPath,
      '--exit-with-pid',
      String(this.opts.parentPid ?? process.pid),
    ];
    const log = fs.openSync(path.join(dir, PLATFORM_LOG_NAME), 'a', 0o600);
    try {
      const child = spawn(process.execPath, args, {
        cwd: dir,
        env: childEnv(spec.sharedDatabaseUrl),
        detached: true, // its own process group: terminate stops the group
        stdio: ['ignore', log, log],
      });
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', reject);
      }).catch((err: unknown) => {
        throw new UnavailableError(`could not start the child platform: ${(err as Error).message}`, { cause: err });
      });
      child.unref();
      return { pid: child.pid!, port, url: `http://127.0.0.1:${port}`, dataDir: dir, hostname: os.hostname() };
    } finally {
      fs.closeSync(log);
    }
  }

  async stop(child: { pid: number }, graceMs: number): Promise<StopOutcome> {
    if (!signalGroup(child.pid, 'SIGTERM')) return 'already_exited';
    if (await this.waitGone(child.pid, graceMs)) return 'SIGTERM';
    signalGroup(child.pid, 'SIGKILL');
    if (await this.waitGone(child.pid, 10_000)) return 'SIGKILL';
    throw new UnavailableError(`child process group ${child.pid} survived SIGKILL`);
  }

  isAlive(child: { pid: number }): boolean {
    return signalGroup(child.pid, 0);
  }

  private async waitGone(pid: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (signalGroup(pid, 0)) {
      if (Date.now() >= deadline) return false;
      await this.sleep(50);
    }
    return true;
  }
}

/** Sends `signal` to the process group led by `pid`; false when no process of it is left. */
function signalGroup(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

/** This process's environment without any Flotilla setting, so the child gets only what it is told. */
function childEnv(sharedDatabaseUrl: string | null): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key === 'DATABASE_URL' || key === 'TEST_DATABASE_URL' || key === 'LOG_LEVEL' || key.startsWith('FLOTILLA_'))
      continue;
    env[key] = value;
  }
  if (sharedDatabaseUrl !== null) env.DATABASE_URL = sharedDatabaseUrl;
  return env;
}

/** A loopback port free right now (the child binds it a moment later). */
function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
