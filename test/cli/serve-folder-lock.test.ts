// `flotilla serve` on a PGlite folder across real processes: a second process on a held folder exits
// with one clear line; after the holder is SIGKILLed the folder is reclaimed and its data is intact.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectHttpClient } from '../../src/mcp/client.js';
import { ChildSet, lines, makeTempDir, TOKEN_PATTERN, type FlotillaChild, type TempDir } from '../helpers/cli.js';

const LISTENING = /MCP listening at (http:\/\/127\.0\.0\.1:\d+)\/mcp/;
const BOOTSTRAP_TOKEN = /shown only this once:\n {2}(flo_[A-Za-z0-9_-]{43})\n/;

/** Child processes each open PGlite (first open of a folder takes several seconds on a busy machine). */
const SLOW = 120_000;

describe('flotilla serve holds its PGlite folder against other processes', () => {
  const children = new ChildSet();
  let tmp: TempDir;

  const serve = (dataDir: string): FlotillaChild =>
    children.start(['serve', '--port', '0', '--database-url', `pglite://${dataDir}`, '--log-level', 'warn']);
  const lockOwner = (dataDir: string): unknown => JSON.parse(fs.readFileSync(`${dataDir}.lock`, 'utf8'));

  beforeAll(() => {
    tmp = makeTempDir();
  });
  afterEach(() => children.killAll());
  afterAll(() => tmp.remove());

  it(
    'makes a second serve on a held folder exit non-zero with one line naming the folder and its holder',
    async () => {
      const dataDir = path.join(tmp.path, 'held');
      const holder = serve(dataDir);
      await holder.waitForStdout(LISTENING);
      expect(lockOwner(dataDir)).toMatchObject({ pid: holder.pid });

      const intruder = await serve(dataDir).waitForExit();
      expect(intruder.code).not.toBe(0);
      expect(intruder.stdout).toBe('');
      const errLines = lines(intruder.stderr);
      expect(errLines).toHaveLength(1);
      expect(errLines[0]).toContain(`data folder ${dataDir} is in use by another Flotilla process (pid ${holder.pid}`);
      expect(errLines[0]).toContain('stop that process first');
      // The refused process leaves the holder and its lock alone.
      expect(holder.exited).toBe(false);
      expect(lockOwner(dataDir)).toMatchObject({ pid: holder.pid });
    },
    SLOW,
  );

  it(
    'starts on a folder whose holder was SIGKILLed, keeping the bootstrap admin it created',
    async () => {
      const dataDir = path.join(tmp.path, 'crashed');
      const holder = serve(dataDir);
      const [, adminToken] = await holder.waitForStdout(BOOTSTRAP_TOKEN);
      expect((await holder.stop('SIGKILL')).signal).toBe('SIGKILL');
      expect(lockOwner(dataDir)).toMatchObject({ pid: holder.pid }); // a crash leaves its lock behind

      const successor = serve(dataDir);
      const [, url] = await successor.waitForStdout(LISTENING);
      expect(lockOwner(dataDir)).toMatchObject({ pid: successor.pid });
      expect(successor.stdout).not.toMatch(TOKEN_PATTERN); // the store was not empty: no second bootstrap

      const client = await connectHttpClient(url!, adminToken!);
      try {
        const info = await client.callTool('get_platform_info', {});
        expect(info.isError).toBe(false);
        expect(info.structured).toMatchObject({ caller: { name: 'admin', role: 'admin' }, store_kind: 'pglite' });
      } finally {
        await client.close();
      }

      expect((await successor.stop('SIGTERM')).code).toBe(0);
      expect(fs.existsSync(`${dataDir}.lock`)).toBe(false); // a clean stop releases the lock
      const listed = await children.run(['operators', 'list', '--database-url', `pglite://${dataDir}`]);
      expect(listed.code).toBe(0);
      expect(listed.stdout).toMatch(/^admin\s+admin\s/m);
    },
    SLOW,
  );
});
