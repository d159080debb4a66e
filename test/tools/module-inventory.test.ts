import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { call, startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { STORE_KINDS } from '../helpers/store.js';

const digest = (c: string): string => `sha256:${c.repeat(64).slice(0, 64)}`;

describe.each(STORE_KINDS)('module inventory on %s', (kind) => {
  let platform: TestPlatform;
  let admin: Client;

  beforeAll(async () => {
    platform = await startTestPlatform(kind);
    admin = await platform.memoryClient();
  });
  afterAll(() => platform.close());

  it('publishes a new module and version in published state with an event', async () => {
    const res = await call(admin, 'publish_module_version', {
      module_name: 'nginx',
      version: '1.24.0',
      digest: digest('a'),
    });
    expect(res.isError).toBe(false);
    expect(res.data).toMatchObject({
      created: true,
      version: { module_name: 'nginx', version: '1.24.0', lifecycle_state: 'published' },
    });
    const events = await call(admin, 'recent_events', { kind_prefix: 'module.version.' });
    expect((events.data.events as Array<{ kind: string }>)[0]?.kind).toBe('module.version.published');
  });

  it('walks a version through the lifecycle one step at a time by version string', async () => {
    await call(admin, 'publish_module_version', { module_name: 'nginx', version: '1.26.0', digest: digest('b') });
    const blessed = await call(admin, 'promote_module_version', {
      module_name: 'nginx',
      version_id: '1.26.0',
      lifecycle_state: 'blessed',
    });
    expect(blessed.data).toMatchObject({ previous_state: 'published', version: { lifecycle_state: 'blessed' } });
    const skip = await call(admin, 'promote_module_version', {
      module_name: 'nginx',
      version_id: '1.24.0',
      lifecycle_state: 'live',
    });
    expect(skip.error?.code).toBe('illegal_transition');
    expect(skip.error?.message).toContain('legal next states: blessed, archived');
  });

  it('refuses an unknown input key by name and writes nothing', async () => {
    const before = await call(admin, 'list_modules', {});
    const res = await call(admin, 'publish_module_version', {
      module_name: 'redis',
      version: '7.0.0',
      digest: digest('c'),
      drfat: true,
    });
    expect(res.error?.code).toBe('invalid_input');
    expect(res.error?.message).toContain('"drfat"');
    const after = await call(admin, 'list_modules', {});
    expect(after.data.modules).toEqual(before.data.modules);
  });
});
