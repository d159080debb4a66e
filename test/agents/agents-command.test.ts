// `flotilla agents` as a real child process against a real platform on loopback: it prints status
// lines while its agents enroll and heartbeat, exits 0 on SIGTERM, and refuses a bad --module in one line.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { ChildSet, cliEnv, lines } from '../helpers/cli.js';
import { digest, enrollmentTokenFor, listAllInstances, publish, waitFor } from '../helpers/fleet.js';

const STATUS = /^agents (\d+)\/(\d+) enrolled, (\d+) healthy, (\d+) failed, heartbeats (\d+) ok \/ (\d+) errors/;

describe('flotilla agents', () => {
  const children = new ChildSet();
  let platform: TestPlatform;
  let admin: Client;
  let url: string;

  beforeAll(async () => {
    platform = await startTestPlatform('pglite');
    admin = await platform.memoryClient();
    url = platform.app.http!.url;
    await publish(admin, 'nginx', '1.24.0', digest('a'));
  });
  afterEach(() => children.killAll());
  afterAll(() => platform.close());

  it('runs N agents, prints status lines, and exits 0 on SIGTERM', async () => {
    const t = await enrollmentTokenFor(admin, 'cli-fleet');
    const child = children.start(
      [
        'agents',
        '--url',
        url,
        '--count',
        '3',
        '--module',
        'nginx=1.24.0',
        '--interval-ms',
        '100',
        '--status-ms',
        '200',
        '--name-prefix',
        'cli',
      ],
      { env: cliEnv({ FLOTILLA_ENROLL_TOKEN: t.token }) },
    );
    await child.waitForStdout(/^agents 3\/3 enrolled, 3 healthy, 0 failed, heartbeats [1-9]\d* ok/m);
    await waitFor('3 instances running nginx 1.24.0', async () => {
      const list = await listAllInstances(admin, { group: 'cli-fleet', module_name: 'nginx', version: '1.24.0' });
      return list.length === 3 && list;
    });

    const result = await child.stop('SIGTERM', 15_000);
    expect(result).toMatchObject({ code: 0, signal: null });
    const out = lines(result.stdout);
    expect(out[0]).toBe(`flotilla agents: 3 agents → ${url}`);
    const statuses = out.slice(1);
    expect(statuses.length).toBeGreaterThanOrEqual(2);
    expect(statuses.every((l) => STATUS.test(l))).toBe(true);
    const last = STATUS.exec(statuses[statuses.length - 1]!)!;
    expect(last.slice(1, 5)).toEqual(['3', '3', '3', '0']);
    const names = (await listAllInstances(admin, { group: 'cli-fleet' })).map((i) => i.name).sort();
    expect(names).toEqual(['cli-1', 'cli-2', 'cli-3']);
  });

  it('refuses --module without a version in one line and a non-zero exit', async () => {
    const t = await enrollmentTokenFor(admin, 'cli-bad');
    const result = await children.run(['agents', '--url', url, '--count', '3', '--module', 'nginx'], {
      env: cliEnv({ FLOTILLA_ENROLL_TOKEN: t.token }),
      timeoutMs: 30_000,
    });
    expect(result.code).not.toBe(0);
    expect(result.code).not.toBeNull();
    expect(result.stdout).toBe('');
    const err = lines(result.stderr);
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(/--module nginx: expected module=version/);
    expect(await listAllInstances(admin, { group: 'cli-bad' })).toEqual([]);
  });
});
