// A spawned child's first boot, without processes or a parent: the bootstrap file's token is redeemed
// once (retried with capped backoff while the parent is unreachable, never after a refusal), then
// removed from the file; the admin token goes to a 0600 file; a dead watched pid ends the platform.
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidInputError, UnauthorizedError, UnavailableError } from '../../src/errors.js';
import {
  FIRST_BOOT_CALLER,
  readBootstrapFile,
  runFirstBoot,
  watchParentPid,
  writeAdminToken,
  type ParentAcceptor,
} from '../../src/federation/spawn/first-boot.js';
import type { BootstrapFile } from '../../src/federation/spawn/provider.js';
import { silentLogger } from '../helpers/store.js';

const TOKEN = 'fpa_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

/** An acceptor answering each call from `script`: an error to throw or a peer id to return. */
function scripted(script: Array<Error | string>): ParentAcceptor & { calls: unknown[] } {
  const calls: unknown[] = [];
  return {
    calls,
    async acceptFromParent(caller, input) {
      calls.push({ caller, input });
      const next = script.shift();
      if (next === undefined) throw new Error('acceptFromParent called more often than scripted');
      if (next instanceof Error) throw next;
      return { id: next };
    },
  };
}

describe('first boot of a spawned child', () => {
  let dir: string;
  let file: string;
  let delays: number[];
  const sleep = async (ms: number): Promise<void> => {
    delays.push(ms);
  };
  const write = (overrides: Partial<BootstrapFile> = {}): BootstrapFile => {
    const content: BootstrapFile = {
      version: 1,
      child_instance_id: randomUUID(),
      parent_url: 'http://127.0.0.1:9',
      acceptance_token: TOKEN,
      contract_version: '1.0',
      spawn_mode: 'autonomous_peer',
      child_name: 'child-1',
      region: 'eu-west-1',
      created_at: '2026-11-22T00:00:00.000Z',
      ...overrides,
    };
    fs.writeFileSync(file, JSON.stringify(content), { mode: 0o600 });
    return content;
  };
  const now = (): Date => new Date('2026-11-22T01:00:00.000Z');

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flotilla-boot-'));
    file = path.join(dir, 'bootstrap.json');
    delays = [];
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('retries an unreachable parent with doubling delays, then removes the token and records completion', async () => {
    const original = write();
    const acceptor = scripted([new UnavailableError('unreachable'), new UnavailableError('HTTP 503'), 'peer-1']);
    const outcome = await runFirstBoot({ file, federation: acceptor, logger: silentLogger, sleep, now });
    expect(outcome).toBe('completed');
    expect(delays).toEqual([500, 1000]);
    expect(acceptor.calls).toHaveLength(3);
    expect(acceptor.calls[0]).toEqual({
      caller: FIRST_BOOT_CALLER,
      input: { parentUrl: 'http://127.0.0.1:9', acceptanceToken: TOKEN },
    });
    expect(FIRST_BOOT_CALLER.role).toBe('admin');
    expect(readBootstrapFile(file)).toEqual({
      ...original,
      acceptance_token: null,
      completed_at: '2026-11-22T01:00:00.000Z',
      federation_peer_id: 'peer-1',
    });
    expect(fs.readFileSync(file, 'utf8')).not.toContain(TOKEN);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });

  it('does not redeem again on a restart once the token is gone', async () => {
    write({ acceptance_token: null, completed_at: '2026-11-22T00:10:00.000Z' });
    const before = fs.readFileSync(file, 'utf8');
    const acceptor = scripted([]);
    expect(await runFirstBoot({ file, federation: acceptor, logger: silentLogger, sleep })).toBe('nothing_to_do');
    expect(acceptor.calls).toHaveLength(0);
    expect(fs.readFileSync(file, 'utf8')).toBe(before);
  });

  it('treats a refusal as final: no retry, the file marked failed with the reason and without the token', async () => {
    write();
    const acceptor = scripted([new UnauthorizedError('the parent refused the acceptance: token was already used')]);
    const outcome = await runFirstBoot({ file, federation: acceptor, logger: silentLogger, sleep, now });
    expect(outcome).toBe('failed');
    expect(acceptor.calls).toHaveLength(1);
    expect(delays).toEqual([]);
    expect(readBootstrapFile(file)).toMatchObject({
      acceptance_token: null,
      failed_at: '2026-11-22T01:00:00.000Z',
      last_error: 'unauthorized: the parent refused the acceptance: token was already used',
    });
  });

  it('caps the backoff', async () => {
    write();
    const failures = Array.from({ length: 6 }, () => new UnavailableError('unreachable'));
    const acceptor = scripted([...failures, 'peer-1']);
    await runFirstBoot({
      file,
      federation: acceptor,
      logger: silentLogger,
      sleep,
      initialDelayMs: 100,
      maxDelayMs: 1000,
    });
    expect(delays).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it('stops retrying when aborted, leaving the token for the next start', async () => {
    write();
    const abort = new AbortController();
    const acceptor = scripted([new UnavailableError('unreachable')]);
    const outcome = await runFirstBoot({
      file,
      federation: acceptor,
      logger: silentLogger,
      signal: abort.signal,
      sleep: async () => {
        abort.abort();
        throw new Error('aborted');
      },
    });
    expect(outcome).toBe('aborted');
    expect(readBootstrapFile(file).acceptance_token).toBe(TOKEN);
  });

  it('refuses a malformed bootstrap file naming the file and the field', () => {
    fs.writeFileSync(file, JSON.stringify({ version: 1, parent_url: 'x' }));
    expect(() => readBootstrapFile(file)).toThrow(InvalidInputError);
    expect(() => readBootstrapFile(file)).toThrow(new RegExp(`bootstrap file ${file}: child_instance_id`));
    expect(() => readBootstrapFile(path.join(dir, 'missing.json'))).toThrow(/cannot read bootstrap file/);
  });

  it('writes the admin token beside the bootstrap file, readable only by its owner', () => {
    const written = writeAdminToken(file, 'flo_secret');
    expect(written).toBe(path.join(dir, 'admin-token'));
    expect(fs.readFileSync(written, 'utf8').trim()).toBe('flo_secret');
    expect(fs.statSync(written).mode & 0o777).toBe(0o600);
  });

  it('calls back once when the watched process is gone', async () => {
    const gone = spawnSync(process.execPath, ['-e', '']).pid!; // exited and reaped
    let calls = 0;
    await new Promise<void>((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error('no callback within 5 s')), 5_000);
      watchParentPid(
        gone,
        () => {
          calls++;
          clearTimeout(deadline);
          resolve();
        },
        20,
      );
    });
    expect(calls).toBe(1);
  });
});
