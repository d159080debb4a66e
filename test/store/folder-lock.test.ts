// The PGlite data-folder lock inside one process: a second open is refused with a message that names
// the folder and what to do; locks left by dead holders (or torn by a crash mid-write) are reclaimed.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FlotillaError } from '../../src/errors.js';
import { openStore, type Store } from '../../src/store/db.js';
import { acquireFolderLock, type FolderLock } from '../../src/store/folder-lock.js';
import { makeTempDir, type TempDir } from '../helpers/cli.js';
import { silentLogger } from '../helpers/store.js';

const lockFileOf = (dataDir: string): string => `${path.resolve(dataDir)}.lock`;

function readLock(dataDir: string): { pid: number; host: string } {
  return JSON.parse(fs.readFileSync(lockFileOf(dataDir), 'utf8')) as { pid: number; host: string };
}

function writeLock(dataDir: string, owner: { pid: number; host?: string; procStart?: string | null }): void {
  fs.mkdirSync(path.dirname(lockFileOf(dataDir)), { recursive: true });
  fs.writeFileSync(
    lockFileOf(dataDir),
    JSON.stringify({
      host: os.hostname(),
      procStart: null,
      acquiredAt: '2026-11-21T00:00:00.000Z',
      ...owner,
    }),
  );
}

/** The pid of a process that has already exited (and been reaped). */
function deadPid(): number {
  const result = spawnSync(process.execPath, ['-e', '']);
  return result.pid;
}

function processStart(pid: number): string {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
}

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('PGlite folder lock within one process', () => {
  let tmp: TempDir;
  let dataDir: string;
  const open: Store[] = [];
  const locks: FolderLock[] = [];

  const openFolder = async (dir = dataDir): Promise<Store> => {
    const store = await openStore({ kind: 'pglite', dataDir: dir }, { logger: silentLogger });
    open.push(store);
    return store;
  };

  beforeAll(() => {
    tmp = makeTempDir();
    dataDir = path.join(tmp.path, 'data');
  });
  afterEach(async () => {
    for (const lock of locks.splice(0)) lock.release();
    for (const store of open.splice(0)) await store.close();
  });
  afterAll(() => tmp.remove());

  it('refuses a second openStore on the same folder, naming the folder and what to do', async () => {
    const first = await openFolder();
    const err = await openFolder().then(
      () => new Error('second open succeeded'),
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(FlotillaError);
    const flotillaErr = err as FlotillaError;
    expect(flotillaErr.code).toBe('conflict');
    expect(flotillaErr.message).toContain(dataDir);
    expect(flotillaErr.message).toContain(`pid ${process.pid}`);
    expect(flotillaErr.hint).toContain('stop that process first');
    expect(flotillaErr.hint).toContain('DATABASE_URL=pglite://');
    expect(flotillaErr.hint).toContain(lockFileOf(dataDir));
    // The refusal leaves the holder untouched.
    expect(readLock(dataDir).pid).toBe(process.pid);
    const { rows } = await sql<{ one: number }>`SELECT 1 AS one`.execute(first.db);
    expect(rows).toEqual([{ one: 1 }]);
  });

  it('removes its lock file on close, so the folder opens again', async () => {
    const store = await openFolder();
    await store.close();
    open.splice(open.indexOf(store), 1);
    expect(fs.existsSync(lockFileOf(dataDir))).toBe(false);
    const again = await openFolder();
    expect(readLock(dataDir).pid).toBe(process.pid);
    await sql`SELECT 1`.execute(again.db);
  });

  it('reclaims a lock file written by a process that has exited', async () => {
    const pid = deadPid();
    writeLock(dataDir, { pid });
    const store = await openFolder();
    expect(readLock(dataDir).pid).toBe(process.pid);
    await sql`SELECT 1`.execute(store.db);
  });

  it.each([
    ['torn JSON', '{"pid":12'],
    ['garbage bytes', '\u0000\u00ff\u00fenot a lock at all'],
    ['an empty file', ''],
  ])('reclaims a lock file holding %s', (_what, content) => {
    const dir = path.join(tmp.path, `torn-${locks.length}-${Math.random().toString(36).slice(2)}`);
    fs.writeFileSync(lockFileOf(dir), content);
    const lock = acquireFolderLock(dir);
    locks.push(lock);
    expect(readLock(dir).pid).toBe(process.pid);
  });

  it.runIf(fs.existsSync('/proc/self/stat'))(
    'refuses a lock whose holder is alive, but reclaims one whose pid now belongs to a different process',
    async () => {
      const other = spawn(process.execPath, ['-e', 'setInterval(() => {}, 60_000)'], { stdio: 'ignore' });
      try {
        const pid = other.pid!;
        const heldDir = path.join(tmp.path, 'held');
        writeLock(heldDir, { pid, procStart: processStart(pid) });
        const err = catchError(() => acquireFolderLock(heldDir));
        expect(err).toBeInstanceOf(FlotillaError);
        expect((err as FlotillaError).message).toContain(`pid ${pid}`);
        expect(readLock(heldDir).pid).toBe(pid);

        const reusedDir = path.join(tmp.path, 'reused');
        writeLock(reusedDir, { pid, procStart: '1' }); // the holder started long before this process
        locks.push(acquireFolderLock(reusedDir));
        expect(readLock(reusedDir).pid).toBe(process.pid);
      } finally {
        other.kill('SIGKILL');
      }
    },
  );

  it('treats a lock from another host as held, since its holder cannot be checked from here', () => {
    const dir = path.join(tmp.path, 'other-host');
    writeLock(dir, { pid: deadPid(), host: `not-${os.hostname()}` });
    const err = catchError(() => acquireFolderLock(dir));
    expect(err).toBeInstanceOf(FlotillaError);
    expect((err as FlotillaError).message).toContain(`not-${os.hostname()}`);
  });
});
