// `--help` on every command a person starts with: usage on stdout, exit 0, nothing opened.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ChildSet, makeTempDir, type TempDir } from '../helpers/cli.js';

/** Each case starts node with the tsx loader: seconds on a busy machine. */
const TIMEOUT = 60_000;

describe('flotilla --help', () => {
  const children = new ChildSet();
  let tmp: TempDir;

  beforeAll(() => {
    tmp = makeTempDir();
  });
  afterEach(() => children.killAll());
  afterAll(() => tmp.remove());

  it.each([
    ['serve', /^Usage: flotilla serve \[options\]/, '--database-url URL'],
    ['migrate', /^Usage: flotilla migrate/, 'newest migration'],
    ['operators', /^Usage:\n {2}flotilla operators add NAME --role ROLE/, 'viewer < operator < approver < admin'],
    ['call', /^Usage:\n {2}flotilla tools/, 'flotilla call TOOL'],
  ])(
    'flotilla %s --help prints its usage and exits 0',
    async (command, usage, mentions) => {
      const result = await children.run([command, '--help'], { cwd: tmp.path });
      expect(result.code).toBe(0);
      expect(result.stderr).toBe('');
      expect(result.stdout).toMatch(usage);
      expect(result.stdout).toContain(mentions);
    },
    TIMEOUT,
  );

  it(
    'flotilla --help lists the commands and exits 0',
    async () => {
      const result = await children.run(['--help'], { cwd: tmp.path });
      expect(result.code).toBe(0);
      for (const command of ['serve', 'migrate', 'operators', 'tools', 'call']) {
        expect(result.stdout).toMatch(new RegExp(`^ {2}${command}\\s`, 'm'));
      }
    },
    TIMEOUT,
  );
});
