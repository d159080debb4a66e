// Tokens on the command line show in `ps`: every command taking one says in --help to prefer its
// environment variable or a token file, warns on stderr when --token is used, and is silent otherwise.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { ChildSet, cliEnv, lines, makeTempDir, type TempDir } from '../helpers/cli.js';

/** Each case starts node with the tsx loader: seconds on a busy machine. */
const TIMEOUT = 60_000;
const PS_WARNING = /warning: --token is visible to other users of this machine in the process list; set FLOTILLA_TOKEN/;

describe('CLI token sources', () => {
  const children = new ChildSet();
  let tmp: TempDir;
  let platform: TestPlatform;
  let url: string;

  beforeAll(async () => {
    tmp = makeTempDir();
    platform = await startTestPlatform('pglite');
    url = platform.app.http!.url;
  });
  afterEach(() => children.killAll());
  afterAll(async () => {
    await platform.close();
    tmp.remove();
  });

  it.each([
    ['call', 'FLOTILLA_TOKEN', '--token-file PATH'],
    ['approvals', 'FLOTILLA_TOKEN', '--token-file PATH'],
    ['diff', 'FLOTILLA_TOKEN', '--token-file PATH'],
    ['agents', 'FLOTILLA_ENROLL_TOKEN', '--enroll-token-file PATH'],
  ])(
    'flotilla %s --help prefers %s and says a token flag shows in the process list',
    async (command, env, fileFlag) => {
      const result = await children.run([command, '--help'], { env: cliEnv(), cwd: tmp.path });
      expect(result.code).toBe(0);
      const help = result.stdout.replace(/\s+/g, ' ');
      expect(help).toContain(`${env} or ${fileFlag}`);
      expect(help).toContain('process list (ps)');
    },
    TIMEOUT,
  );

  it.each([[['tools']], [['approvals', 'list']]])(
    'flotilla %j --token works and warns on stderr that the token shows in the process list',
    async (args) => {
      const result = await children.run([...args, '--url', url, '--token', platform.adminToken], { env: cliEnv() });
      expect(result.code).toBe(0);
      expect(lines(result.stderr)).toHaveLength(1);
      expect(result.stderr).toMatch(PS_WARNING);
      expect(result.stderr).not.toContain(platform.adminToken);
    },
    TIMEOUT,
  );

  it(
    'flotilla tools with FLOTILLA_TOKEN works without a warning',
    async () => {
      const result = await children.run(['tools', '--url', url], {
        env: cliEnv({ FLOTILLA_TOKEN: platform.adminToken }),
      });
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^list_instances\s/m);
      expect(result.stderr).toBe('');
    },
    TIMEOUT,
  );

  it(
    'flotilla tools --token-file reads the token from the file without a warning',
    async () => {
      const file = path.join(tmp.path, 'token');
      fs.writeFileSync(file, `${platform.adminToken}\n`, { mode: 0o600 });
      const result = await children.run(['tools', '--url', url, '--token-file', file], { env: cliEnv() });
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^list_instances\s/m);
      expect(result.stderr).toBe('');
    },
    TIMEOUT,
  );

  it(
    'flotilla tools refuses --token together with --token-file',
    async () => {
      const file = path.join(tmp.path, 'token-both');
      fs.writeFileSync(file, platform.adminToken, { mode: 0o600 });
      const result = await children.run(['tools', '--url', url, '--token', 'x', '--token-file', file], {
        env: cliEnv(),
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('pass either --token or --token-file, not both');
    },
    TIMEOUT,
  );

  it(
    'flotilla agents --enroll-token warns and names FLOTILLA_ENROLL_TOKEN',
    async () => {
      // --count 0 is refused after the token is read, so the command stops without running agents.
      const result = await children.run(['agents', '--url', url, '--enroll-token', 'fl_enroll', '--count', '0'], {
        env: cliEnv(),
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(
        /warning: --enroll-token is visible to other users of this machine in the process list; set FLOTILLA_ENROLL_TOKEN/,
      );
    },
    TIMEOUT,
  );
});
