// `flotilla diff -f` and `flotilla apply -f` as real child processes against a real platform on
// loopback: diff lists what would change, apply applies it, a diff after says plainly that nothing
// would change, and an invalid manifest prints every error by its path and exits 1.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { ChildSet, cliEnv, lines, makeTempDir, type TempDir } from '../helpers/cli.js';

/** Each run starts node with the tsx loader: seconds on a busy machine. */
const TIMEOUT = 60_000;

const MANIFEST = `apiVersion: flotilla/v1
kind: Fleet
modules:
  - module_name: nginx
    versions:
      - version: 1.26.0
        digest: sha256:${'a'.repeat(64)}
        lifecycle_state: blessed
`;

describe('flotilla diff / apply', () => {
  const children = new ChildSet();
  let platform: TestPlatform;
  let tmp: TempDir;
  let file: string;

  beforeAll(async () => {
    platform = await startTestPlatform('pglite');
    tmp = makeTempDir();
    file = path.join(tmp.path, 'fleet.yaml');
    fs.writeFileSync(file, MANIFEST);
  });
  afterEach(() => children.killAll());
  afterAll(async () => {
    await platform.close();
    tmp.remove();
  });

  const run = (args: string[]) =>
    children.run(args, {
      cwd: tmp.path,
      env: cliEnv({ FLOTILLA_URL: platform.app.http!.url, FLOTILLA_TOKEN: platform.adminToken }),
    });

  it(
    'diff prints what would change, apply applies it, and a second diff says nothing would change',
    async () => {
      const diff = await run(['diff', '-f', file]);
      expect(diff).toMatchObject({ code: 0, stderr: '' });
      expect(lines(diff.stdout)).toEqual([
        'create  nginx 1.26.0: publish sha256:' +
          'a'.repeat(64) +
          ' as published, then published → blessed  (modules[0].versions[0])',
        'would change: 1 to create, 0 to update, 0 to delete, 0 unchanged',
      ]);
      const apply = await run(['apply', '-f', file]);
      expect(apply).toMatchObject({ code: 0, stderr: '' });
      expect(lines(apply.stdout).at(-1)).toBe('applied: 1 created, 0 updated, 0 deleted, 0 unchanged');
      const version = await platform.app.services.modules.resolveVersion('1.26.0', { moduleName: 'nginx' });
      expect(version.lifecycleState).toBe('blessed');
      const again = await run(['diff', '--file', file]);
      expect(lines(again.stdout)).toEqual([
        'nothing would change: the platform already matches the manifest (1 items)',
      ]);
    },
    3 * TIMEOUT,
  );

  it(
    'flotilla apply --help prints the usage of both commands',
    async () => {
      const result = await children.run(['apply', '--help'], { cwd: tmp.path });
      expect(result).toMatchObject({ code: 0, stderr: '' });
      expect(result.stdout).toMatch(/^Usage:\n {2}flotilla diff -f FILE/);
      expect(result.stdout).toContain('flotilla apply -f FILE');
    },
    TIMEOUT,
  );

  it(
    'an invalid manifest prints every error by its path and exits 1',
    async () => {
      const bad = path.join(tmp.path, 'bad.yaml');
      fs.writeFileSync(bad, MANIFEST.replace('blessed', 'shiny').replace('kind: Fleet', 'kind: Fleet\ncolour: blue'));
      const result = await run(['apply', '-f', bad]);
      expect(result.code).toBe(1);
      expect(lines(result.stderr)).toEqual([
        `invalid_input: ${bad} was refused with 2 error(s); nothing was applied`,
        expect.stringMatching(/^ {2}modules\[0\]\.versions\[0\]\.lifecycle_state: Invalid option/),
        '  colour: unknown field',
      ]);
    },
    TIMEOUT,
  );
});
