// A PGlite data folder is private to the user running the platform: a real platform (openStore and
// createApp, which writes the platform's key pair) on a fresh folder, and on a folder whose content another
// user could read and write (folders 0777, files 0666, as PGlite leaves them), ends with the folder and every
// folder in it 0700 and every file 0600, while it runs and after it closes; the repair of the existing folder
// is logged as one warning; the lock file beside the folder is 0600.
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { ManualClock } from '../../src/scheduler/clock.js';
import { openStore, type Store } from '../../src/store/db.js';
import { makeTempDir, type TempDir } from '../helpers/cli.js';

/** Modes of everything under `dir` (the folder included) that group or others can use, by path. */
function openToOthers(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const pending = [dir];
  let files = 0;
  while (pending.length > 0) {
    const current = pending.pop()!;
    const stat = fs.lstatSync(current);
    const mode = stat.mode & 0o777;
    if (stat.isDirectory()) {
      if (mode !== 0o700) out[current] = mode.toString(8);
      for (const name of fs.readdirSync(current)) pending.push(path.join(current, name));
    } else if (stat.isFile()) {
      files += 1;
      if (mode !== 0o600) out[current] = mode.toString(8);
    }
  }
  expect(files).toBeGreaterThan(500); // a whole cluster, not an empty folder
  return out;
}

/** Makes every folder under `dir` 0777 and every file 0666. */
function openUp(dir: string): void {
  fs.chmodSync(dir, 0o777);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const full = path.join(entry.parentPath, entry.name);
    fs.chmodSync(full, entry.isDirectory() ? 0o777 : 0o666);
  }
}

/** Each test opens PGlite twice or more (the first open of a folder takes seconds on a busy machine). */
const SLOW = 180_000;

interface Started {
  store: Store;
  logs: Array<{ level: number; msg: string; folders?: number; files?: number }>;
  close(): Promise<void>;
}

/** A platform on `dataDir`: the real store and app (which migrates and writes the platform's keys). */
async function startPlatform(dataDir: string): Promise<Started> {
  const logs: Started['logs'] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
  const store = await openStore({ kind: 'pglite', dataDir }, { logger });
  const app = await createApp(
    {
      host: '127.0.0.1',
      port: 0,
      name: 'private-platform',
      region: 'eu-west',
      tickMs: 5000,
      databaseUrl: undefined,
      allowedOrigins: [],
    },
    { store, clock: new ManualClock('2026-12-05T00:00:00.000Z'), logger, startReconciler: false },
  );
  return {
    store,
    logs,
    async close() {
      await app.close();
      await store.close();
    },
  };
}

describe('PGlite data folder permissions', () => {
  let tmp: TempDir;

  beforeAll(() => {
    tmp = makeTempDir();
  });
  afterAll(() => tmp.remove());

  it(
    'keeps a fresh folder 0700 with files 0600 while running and after close, warning about nothing',
    async () => {
      const dataDir = path.join(tmp.path, 'fresh');
      const platform = await startPlatform(dataDir);
      try {
        expect(openToOthers(dataDir)).toEqual({});
        expect((fs.statSync(`${dataDir}.lock`).mode & 0o777).toString(8)).toBe('600');
        await platform.store.db.selectFrom('platform_keys').selectAll().execute();
      } finally {
        await platform.close();
      }
      expect(openToOthers(dataDir)).toEqual({});
      expect(platform.logs.filter((l) => l.level >= 40)).toEqual([]);
    },
    SLOW,
  );

  it(
    'repairs a folder open to everyone (0777 / 0666) at start, with one warning saying what it repaired',
    async () => {
      const dataDir = path.join(tmp.path, 'open');
      await (await startPlatform(dataDir)).close();
      openUp(dataDir);
      const folders = fs.readdirSync(dataDir, { withFileTypes: true, recursive: true }).filter((e) => e.isDirectory());
      const files = fs.readdirSync(dataDir, { withFileTypes: true, recursive: true }).filter((e) => e.isFile());

      const platform = await startPlatform(dataDir);
      try {
        expect(openToOthers(dataDir)).toEqual({});
        const warnings = platform.logs.filter((l) => l.level >= 40);
        expect(warnings).toEqual([
          expect.objectContaining({
            level: 40,
            folders: folders.length + 1,
            files: files.length,
            msg: `data folder ${dataDir} was open to other users: made ${folders.length + 1} folder(s) 0700 and ${files.length} file(s) 0600`,
          }),
        ]);
      } finally {
        await platform.close();
      }
      expect(openToOthers(dataDir)).toEqual({});
    },
    SLOW,
  );
});
