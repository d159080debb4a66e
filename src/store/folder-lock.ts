// An exclusive lock on a PGlite data folder, held as a lock file beside it for the life of the process.
// PGlite has no lock of its own and two processes on one folder silently lose rows. A lock whose holder
// is dead (same host, pid gone or reused by another process) is reclaimed; a live holder is refused.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FlotillaError } from '../errors.js';

interface LockOwner {
  pid: number;
  host: string;
  /** Kernel start time of the holder (Linux), so a recycled pid is not mistaken for the holder. */
  procStart: string | null;
  acquiredAt: string;
}

export interface FolderLock {
  readonly path: string;
  release(): void;
}

/** Reads a process's start time from /proc; null where /proc is unavailable. */
function processStartTime(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime) follows the command name, which is parenthesised and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

function isAlive(owner: LockOwner): boolean {
  if (owner.host !== os.hostname()) return true; // cannot tell from here: assume alive
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  if (owner.procStart === null) return true;
  const now = processStartTime(owner.pid);
  return now === null || now === owner.procStart;
}

function readOwner(file: string): LockOwner | null {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as LockOwner;
  } catch {
    return null; // missing, or torn by a holder killed while writing: treat as stale
  }
}

function tryCreate(file: string, owner: LockOwner): boolean {
  try {
    fs.writeFileSync(file, JSON.stringify(owner), { flag: 'wx', mode: 0o600 });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/**
 * Takes the lock for `dataDir` or throws a FlotillaError naming the holder and what to do.
 * Reclaiming a stale lock is serialised by a second, short-lived lock so two starters cannot both win.
 */
export function acquireFolderLock(dataDir: string): FolderLock {
  const file = `${path.resolve(dataDir)}.lock`;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const me: LockOwner = {
    pid: process.pid,
    host: os.hostname(),
    procStart: processStartTime(process.pid),
    acquiredAt: new Date().toISOString(),
  };
  for (let attempt = 0; attempt < 5; attempt++) {
    if (tryCreate(file, me)) return makeLock(file);
    const owner = readOwner(file);
    if (owner !== null && isAlive(owner)) throw heldError(dataDir, file, owner);
    reclaimStale(file, owner);
  }
  throw new FlotillaError('conflict', `could not take the lock on ${dataDir}: it keeps changing hands`, {
    hint: 'another Flotilla process is starting on this folder; wait for it or stop it',
  });
}

function reclaimStale(file: string, seen: LockOwner | null): void {
  const guard = `${file}.reclaim`;
  try {
    fs.mkdirSync(guard, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    // Another starter is reclaiming; a guard left by a starter killed mid-reclaim expires after 10 s.
    const stat = fs.statSync(guard, { throwIfNoEntry: false });
    if (stat !== undefined && Date.now() - stat.mtimeMs > 10_000) fs.rmSync(guard, { recursive: true, force: true });
    return;
  }
  try {
    const current = readOwner(file);
    const same =
      current === null || (seen !== null && current.pid === seen.pid && current.acquiredAt === seen.acquiredAt);
    if (same && (current === null || !isAlive(current))) fs.rmSync(file, { force: true });
  } finally {
    fs.rmSync(guard, { recursive: true, force: true });
  }
}

function heldError(dataDir: string, file: string, owner: LockOwner): FlotillaError {
  return new FlotillaError(
    'conflict',
    `data folder ${dataDir} is in use by another Flotilla process (pid ${owner.pid} on ${owner.host}, since ${owner.acquiredAt})`,
    {
      hint:
        'stop that process first, or give this one its own folder with DATABASE_URL=pglite://OTHER_PATH; ' +
        `to share one store between processes use Postgres. If that process is gone, delete ${file}`,
      details: { lock_file: file, pid: owner.pid, host: owner.host },
    },
  );
}

function makeLock(file: string): FolderLock {
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    const owner = readOwner(file);
    if (owner?.pid === process.pid) fs.rmSync(file, { force: true });
    process.off('exit', release);
  };
  process.on('exit', release);
  return { path: file, release };
}
