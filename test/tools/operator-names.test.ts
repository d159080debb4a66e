// Operator names through the MCP tools: names are never reused (approvals, four-eyes and the event log
// record operators by name), so creating a revoked name is refused with a hint that says so, not one
// that sends the admin to revoke first.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { STORE_KINDS } from '../helpers/store.js';

describe.each(STORE_KINDS)('operator names on %s', (kind) => {
  let platform: TestPlatform;
  let admin: Client;

  beforeAll(async () => {
    platform = await startTestPlatform(kind);
    admin = await platform.memoryClient();
  });
  afterAll(() => platform.close());

  const operatorsNamed = async (name: string): Promise<Array<{ name: string; revoked_at: string | null }>> => {
    const res = await call(admin, 'list_operators', { include_revoked: true });
    return (res.data.operators as Array<{ name: string; revoked_at: string | null }>).filter((o) => o.name === name);
  };

  it('refuses a revoked name as never reused, with a hint to pick another name and nothing created', async () => {
    expect((await call(admin, 'create_operator', { name: 'bob', role: 'approver' })).isError).toBe(false);
    expect((await call(admin, 'revoke_operator', { name: 'bob' })).isError).toBe(false);

    const res = await call(admin, 'create_operator', { name: 'bob', role: 'approver' });
    expect(res.error?.code).toBe('conflict');
    expect(res.error?.message).toMatch(/^operator name bob belonged to an operator revoked at /);
    expect(res.error?.hint).toContain('names are never reused');
    expect(res.error?.hint).toContain('bob-2');
    expect(res.error?.hint).not.toMatch(/revoke/);
    expect(await operatorsNamed('bob')).toHaveLength(1);
    expect((await call(admin, 'create_operator', { name: 'bob-2', role: 'approver' })).isError).toBe(false);
  });

  it('refuses an active name without promising that revoking frees it', async () => {
    expect((await call(admin, 'create_operator', { name: 'carol', role: 'viewer' })).isError).toBe(false);
    const res = await call(admin, 'create_operator', { name: 'carol', role: 'viewer' });
    expect(res.error?.code).toBe('conflict');
    expect(res.error?.message).toBe('operator carol already exists');
    expect(res.error?.hint).toBe(
      'pick another name; a lost token is not reissued: revoke carol and create the person under a new name (e.g. carol-2)',
    );
  });
});
