// Strict tool input: unknown keys and wrong types are refused by name before anything is written;
// limit is clamped above the maximum but refused below 1.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { MAX_LIMIT } from '../../src/domain/paging.js';
import { call, startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { STORE_KINDS } from '../helpers/store.js';

const digest = (c: string): string => `sha256:${c.repeat(64)}`;

describe.each(STORE_KINDS)('tool input validation on %s', (kind) => {
  let platform: TestPlatform;
  let admin: Client;

  beforeAll(async () => {
    platform = await startTestPlatform(kind);
    admin = await platform.memoryClient();
    await call(admin, 'publish_module_version', { module_name: 'nginx', version: '1.24.0', digest: digest('a') });
  });
  afterAll(() => platform.close());
  afterEach(() => {
    vi.restoreAllMocks();
  });

  /** Everything a refused call could have written. */
  const snapshot = async (): Promise<unknown> => ({
    operators: (await call(admin, 'list_operators', { include_revoked: true })).data,
    modules: (await call(admin, 'list_modules', {})).data,
    versions: (await call(admin, 'list_module_versions', { module_name: 'nginx' })).data,
    events: (await call(admin, 'recent_events', {})).data,
  });

  it('refuses an unknown key by name, lists the accepted fields, and creates nobody', async () => {
    const before = await snapshot();
    const res = await call(admin, 'create_operator', { name: 'ivy', role: 'viewer', expires_in_days: 30 });
    expect(res.error?.code).toBe('invalid_input');
    expect(res.error?.message).toContain('unknown field "expires_in_days"');
    expect(res.error?.message).toContain('this tool accepts: name, role');
    expect(res.error?.hint).toContain('nothing was changed');
    expect(await snapshot()).toEqual(before);
  });

  it('refuses a misspelled key instead of silently using the default', async () => {
    const before = await snapshot();
    const res = await call(admin, 'publish_module_version', {
      module_name: 'nginx',
      version: '1.25.0',
      digest: digest('b'),
      darft: true,
    });
    expect(res.error?.code).toBe('invalid_input');
    expect(res.error?.message).toContain('"darft"');
    expect(await snapshot()).toEqual(before);
  });

  it('names every field of the wrong type and writes nothing', async () => {
    const before = await snapshot();
    const res = await call(admin, 'publish_module_version', {
      module_name: 'nginx',
      version: 125,
      digest: digest('c'),
      draft: 'yes',
    });
    expect(res.error?.code).toBe('invalid_input');
    expect(res.error?.message).toMatch(/\bversion: /);
    expect(res.error?.message).toMatch(/\bdraft: /);
    expect(res.error?.message).not.toMatch(/\bdigest: /);
    expect(await snapshot()).toEqual(before);
  });

  it('refuses a value that breaks a field rule, naming the field', async () => {
    const before = await snapshot();
    const res = await call(admin, 'publish_module_version', {
      module_name: 'nginx',
      version: '1.25.0',
      digest: 'md5:abc',
    });
    expect(res.error?.code).toBe('invalid_input');
    expect(res.error?.message).toMatch(/^digest: /);
    expect(await snapshot()).toEqual(before);
  });

  it('refuses a missing required field by name', async () => {
    const res = await call(admin, 'create_operator', { role: 'viewer' });
    expect(res.error?.code).toBe('invalid_input');
    expect(res.error?.message).toMatch(/^name: /);
  });

  it.each([0, -1, 2.5, '10'])('refuses limit %j naming limit', async (limit) => {
    const res = await call(admin, 'list_modules', { limit });
    expect(res.error?.code).toBe('invalid_input');
    expect(res.error?.message).toMatch(/^limit: /);
  });

  it('refuses a cursor this list did not return', async () => {
    const res = await call(admin, 'list_module_versions', { module_name: 'nginx', cursor: 'not-a-cursor' });
    expect(res.error?.code).toBe('invalid_input');
    expect(res.error?.message).toContain('cursor');
  });

  describe('limit above the maximum', () => {
    it('list_module_versions clamps limit 10000 to 500 instead of refusing it', async () => {
      const spy = vi.spyOn(platform.app.services.modules, 'listVersions');
      const res = await call(admin, 'list_module_versions', { module_name: 'nginx', limit: 10_000 });
      expect(res.isError).toBe(false);
      expect(res.data.versions).toHaveLength(1);
      expect(spy).toHaveBeenCalledWith(expect.objectContaining({ limit: MAX_LIMIT }));
    });

    it('list_modules clamps limit 10000 to 500', async () => {
      const spy = vi.spyOn(platform.app.services.modules, 'listModules');
      const res = await call(admin, 'list_modules', { limit: 10_000 });
      expect(res.isError).toBe(false);
      expect(spy).toHaveBeenCalledWith(expect.objectContaining({ limit: MAX_LIMIT }));
    });

    it('list_operators clamps limit 10000 to 500', async () => {
      const spy = vi.spyOn(platform.app.services.operators, 'list');
      const res = await call(admin, 'list_operators', { limit: 10_000 });
      expect(res.isError).toBe(false);
      expect(spy).toHaveBeenCalledWith(expect.objectContaining({ limit: MAX_LIMIT }));
    });

    it('recent_events clamps limit 10000 to 500', async () => {
      const spy = vi.spyOn(platform.app.services.events, 'recent');
      const res = await call(admin, 'recent_events', { limit: 10_000 });
      expect(res.isError).toBe(false);
      expect(spy).toHaveBeenCalledWith(expect.objectContaining({ limit: MAX_LIMIT }));
    });
  });
});
