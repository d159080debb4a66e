// Roles on the MCP surface: a caller below a tool's role is refused with `forbidden` naming the role it
// needs, and restoring an archived version needs admin even though promoting needs only operator.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { STORE_KINDS } from '../helpers/store.js';

const digest = (c: string): string => `sha256:${c.repeat(64)}`;

describe.each(STORE_KINDS)('roles on %s', (kind) => {
  let platform: TestPlatform;
  let admin: Client;
  let viewer: Client;
  let operator: Client;

  beforeAll(async () => {
    platform = await startTestPlatform(kind);
    admin = await platform.memoryClient();
    viewer = await platform.memoryClient(await platform.operator('vera', 'viewer'));
    operator = await platform.memoryClient(await platform.operator('otto', 'operator'));
  });
  afterAll(() => platform.close());

  const versionState = async (moduleName: string, version: string): Promise<string | undefined> => {
    const res = await call(admin, 'list_module_versions', { module_name: moduleName });
    const versions = res.data.versions as Array<{ version: string; lifecycle_state: string }>;
    return versions.find((v) => v.version === version)?.lifecycle_state;
  };

  it('refuses create_operator to a viewer with forbidden naming the admin role, creating nobody', async () => {
    const res = await call(viewer, 'create_operator', { name: 'mallory', role: 'admin' });
    expect(res.error?.code).toBe('forbidden');
    expect(res.error?.message).toContain('create_operator needs the admin role');
    expect(res.error?.message).toContain('vera is viewer');
    const operators = await call(admin, 'list_operators', {});
    expect((operators.data.operators as Array<{ name: string }>).map((o) => o.name)).not.toContain('mallory');
  });

  it('refuses publish_module_version to a viewer with forbidden naming the operator role', async () => {
    const res = await call(viewer, 'publish_module_version', {
      module_name: 'viewer-made',
      version: '1.0.0',
      digest: digest('a'),
    });
    expect(res.error?.code).toBe('forbidden');
    expect(res.error?.message).toContain('needs the operator role');
    const modules = await call(admin, 'list_modules', {});
    expect((modules.data.modules as Array<{ name: string }>).map((m) => m.name)).not.toContain('viewer-made');
  });

  it('lets an operator publish and archive a version', async () => {
    const published = await call(operator, 'publish_module_version', {
      module_name: 'haproxy',
      version: '2.8.0',
      digest: digest('b'),
    });
    expect(published.isError).toBe(false);
    expect(published.data).toMatchObject({ created: true, version: { created_by: 'otto' } });
    const archived = await call(operator, 'promote_module_version', {
      module_name: 'haproxy',
      version_id: '2.8.0',
      lifecycle_state: 'archived',
    });
    expect(archived.data).toMatchObject({ previous_state: 'published', version: { lifecycle_state: 'archived' } });
  });

  it('refuses an operator restoring an archived version, naming the admin role, and leaves it archived', async () => {
    await call(operator, 'publish_module_version', { module_name: 'envoy', version: '1.30.0', digest: digest('c') });
    await call(operator, 'promote_module_version', {
      module_name: 'envoy',
      version_id: '1.30.0',
      lifecycle_state: 'archived',
    });
    const res = await call(operator, 'promote_module_version', {
      module_name: 'envoy',
      version_id: '1.30.0',
      lifecycle_state: 'published',
    });
    expect(res.error?.code).toBe('forbidden');
    expect(res.error?.message).toContain('from archived to published needs the admin role');
    expect(await versionState('envoy', '1.30.0')).toBe('archived');
  });

  it('lets an admin restore an archived version to published', async () => {
    await call(operator, 'publish_module_version', { module_name: 'caddy', version: '2.7.0', digest: digest('d') });
    await call(operator, 'promote_module_version', {
      module_name: 'caddy',
      version_id: '2.7.0',
      lifecycle_state: 'archived',
    });
    const res = await call(admin, 'promote_module_version', {
      module_name: 'caddy',
      version_id: '2.7.0',
      lifecycle_state: 'published',
    });
    expect(res.isError).toBe(false);
    expect(res.data).toMatchObject({ previous_state: 'archived', version: { lifecycle_state: 'published' } });
    expect(await versionState('caddy', '2.7.0')).toBe('published');
  });
});
