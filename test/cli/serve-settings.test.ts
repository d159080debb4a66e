// `flotilla serve` settings as a person meets them: a bad value stops start-up with one line naming
// the flag or variable it came from; an empty variable counts as unset; unknown FLOTILLA_* are ignored.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ChildSet, cliEnv, lines, makeTempDir, type TempDir } from '../helpers/cli.js';

const SLOW = 120_000;
const DEFAULT_PORT = 7410;

/** Holds 127.0.0.1:port for the test; if something else already holds it, that serves as well. */
async function holdPort(port: number): Promise<() => Promise<void>> {
  const server = net.createServer();
  const held = await new Promise<boolean>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' ? resolve(false) : reject(err)));
    server.listen(port, '127.0.0.1', () => resolve(true));
  });
  return () => (held ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve());
}

describe('flotilla serve settings', () => {
  const children = new ChildSet();
  let tmp: TempDir;

  /** Runs serve in the temp dir, so a start that wrongly reached the store would create ./.flotilla there. */
  const serve = (args: string[], env: Record<string, string> = {}) =>
    children.run(['serve', ...args], { cwd: tmp.path, env: cliEnv(env) });

  beforeAll(() => {
    tmp = makeTempDir();
  });
  afterEach(() => children.killAll());
  afterAll(() => tmp.remove());

  it(
    'exits non-zero with exactly one line naming --port for --port abc',
    async () => {
      const result = await serve(['--port', 'abc']);
      expect(result.code).not.toBe(0);
      expect(result.stdout).toBe('');
      const errLines = lines(result.stderr);
      expect(errLines).toHaveLength(1);
      expect(errLines[0]).toMatch(/^flotilla: invalid setting --port="abc": /);
      expect(fs.existsSync(path.join(tmp.path, '.flotilla'))).toBe(false);
    },
    SLOW,
  );

  it(
    'exits non-zero with exactly one line naming FLOTILLA_PORT for FLOTILLA_PORT=abc',
    async () => {
      const result = await serve([], { FLOTILLA_PORT: 'abc' });
      expect(result.code).not.toBe(0);
      const errLines = lines(result.stderr);
      expect(errLines).toHaveLength(1);
      expect(errLines[0]).toMatch(/^flotilla: invalid setting FLOTILLA_PORT="abc": /);
      expect(fs.existsSync(path.join(tmp.path, '.flotilla'))).toBe(false);
    },
    SLOW,
  );

  it(
    'treats an empty FLOTILLA_PORT as unset: it goes for the default port, saying in one line that it is taken',
    async () => {
      // Were "" read as a value it would coerce to port 0 and start; unset means 7410, held here.
      const release = await holdPort(DEFAULT_PORT);
      try {
        const result = await serve(['--database-url', 'pglite://memory', '--log-level', 'warn'], { FLOTILLA_PORT: '' });
        expect(result.code).not.toBe(0);
        expect(result.stdout).not.toContain('MCP listening');
        const errLines = lines(result.stderr);
        expect(errLines).toHaveLength(1);
        expect(errLines[0]).toContain(`port ${DEFAULT_PORT} on 127.0.0.1 is already in use`);
        expect(errLines[0]).toContain('--port / FLOTILLA_PORT');
      } finally {
        await release();
      }
    },
    SLOW,
  );

  it(
    'starts with every other setting variable empty and unknown FLOTILLA_* variables set',
    async () => {
      const child = children.start(['serve', '--port', '0', '--database-url', 'pglite://memory'], {
        cwd: tmp.path,
        env: cliEnv({
          FLOTILLA_HOST: '',
          FLOTILLA_NAME: '',
          FLOTILLA_REGION: '',
          FLOTILLA_TICK_MS: '',
          FLOTILLA_ALLOWED_ORIGINS: '',
          FLOTILLA_OPERATOR: '',
          LOG_LEVEL: '',
          FLOTILLA_PROT: 'abc',
          FLOTILLA_FROBNICATE: 'yes',
        }),
      });
      await child.waitForStdout(/MCP listening at http:\/\/127\.0\.0\.1:\d+\/mcp/);
      expect(lines(child.stdout)[0]).toMatch(new RegExp(`^Flotilla platform "${os.hostname()}" `));
      expect((await child.stop('SIGTERM')).code).toBe(0);
    },
    SLOW,
  );
});
