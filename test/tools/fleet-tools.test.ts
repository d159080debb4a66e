// The fleet tools through a real SDK client against a real platform: enrollment tokens and groups,
// list_instances filters and paging, get_instance, drift_report, terminate_instance and
// assign_module_version (refusals write nothing). Agents enroll over real HTTP.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestPlatform, type TestPlatform } from '../helpers/app.js';
import {
  countEvents,
  countRows,
  digest,
  enroll,
  enrollmentTokenFor,
  heartbeat,
  listAllInstances,
  publish,
  type InstanceView,
} from '../helpers/fleet.js';
import { STORE_KINDS } from '../helpers/store.js';

const A = digest('a'); // nginx 1.24.0
const B = digest('b'); // nginx 1.26.0
const C = digest('c'); // redis 7.2.0

describe.each(STORE_KINDS)('fleet tools on %s', (kind) => {
  let platform: TestPlatform;
  let admin: Client;
  let url: string;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    platform = await startTestPlatform(kind);
    admin = await platform.memoryClient();
    url = platform.app.http!.url;
    ids.nginx124 = await publish(admin, 'nginx', '1.24.0', A);
    ids.nginx126 = await publish(admin, 'nginx', '1.26.0', B);
    ids.redis72 = await publish(admin, 'redis', '7.2.0', C);
  });
  afterAll(() => platform.close());

  /** Enrolls `n` agents in a new group, each reporting `digests`; returns their instance ids in order. */
  async function fleet(group: string, n: number, digests: Record<string, string> = {}): Promise<string[]> {
    const t = await enrollmentTokenFor(admin, group);
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      out.push((await enroll(url, t.token, `${group}-${i}`, { running_module_digests: digests })).instance_id);
    }
    return out;
  }

  async function assignedRows(): Promise<number> {
    const r = await sql<{ n: string }>`
      SELECT (SELECT count(*) FROM group_module_versions) + (SELECT count(*) FROM instance_desired_versions) AS n`.execute(
      platform.store.db,
    );
    return Number(r.rows[0]!.n);
  }

  describe('create_enrollment_token', () => {
    it('creates the group with its first token and reuses it after', async () => {
      const groupsBefore = await countRows(platform.store.db, 'groups');
      const first = await call(admin, 'create_enrollment_token', { group: 'tok-new' });
      expect(first.data).toMatchObject({
        enrollment_token_id: expect.any(String),
        token: expect.stringMatching(/^fle_/),
        group: { name: 'tok-new', created: true },
        expires_at: new Date(platform.clock.now().getTime() + 86_400_000).toISOString(),
      });
      const second = await call(admin, 'create_enrollment_token', { group: 'tok-new' });
      expect(second.data.group).toEqual({ ...(first.data.group as object), created: false });
      expect(second.data.token).not.toBe(first.data.token);
      expect(await countRows(platform.store.db, 'groups')).toBe(groupsBefore + 1);
      const events = await call(admin, 'recent_events', { kind_prefix: 'group.created' });
      expect(
        (events.data.events as Array<{ payload: { name: string } }>).filter((e) => e.payload.name === 'tok-new'),
      ).toHaveLength(1);
    });

    it('accepts template_id as the group id or name', async () => {
      const made = await call(admin, 'create_enrollment_token', { group: 'tok-template' });
      const group = made.data.group as { id: string; name: string };
      const byId = await call(admin, 'create_enrollment_token', { template_id: group.id });
      const byName = await call(admin, 'create_enrollment_token', { template_id: 'tok-template' });
      expect(byId.data.group).toEqual({ id: group.id, name: 'tok-template', created: false });
      expect(byName.data.group).toEqual({ id: group.id, name: 'tok-template', created: false });
      const agent = await enroll(url, byId.data.token as string, 'via-template');
      expect(agent.group).toEqual({ id: group.id, name: 'tok-template' });
    });

    it('refuses template_id of an unknown group with not_found, creating nothing', async () => {
      const groupsBefore = await countRows(platform.store.db, 'groups');
      const res = await call(admin, 'create_enrollment_token', { template_id: 'tok-nowhere' });
      expect(res.error?.code).toBe('not_found');
      expect(await countRows(platform.store.db, 'groups')).toBe(groupsBefore);
    });

    it.each([
      ['both group and template_id', { group: 'tok-both', template_id: 'tok-both' }],
      ['neither group nor template_id', {}],
    ])('refuses %s with invalid_input, writing nothing', async (_label, args) => {
      const [groups, events] = [
        await countRows(platform.store.db, 'groups'),
        await countRows(platform.store.db, 'events'),
      ];
      const res = await call(admin, 'create_enrollment_token', args);
      expect(res.error?.code).toBe('invalid_input');
      expect(await countRows(platform.store.db, 'groups')).toBe(groups);
      expect(await countRows(platform.store.db, 'events')).toBe(events);
    });

    it('refuses a viewer', async () => {
      const viewer = await platform.memoryClient(await platform.operator('fleet-viewer', 'viewer'));
      const res = await call(viewer, 'create_enrollment_token', { group: 'tok-viewer' });
      expect(res.error?.code).toBe('forbidden');
    });

    it('refuses to revoke a token twice with conflict', async () => {
      const t = await enrollmentTokenFor(admin, 'tok-revoke');
      expect((await call(admin, 'revoke_enrollment_token', { enrollment_token_id: t.id })).isError).toBe(false);
      const again = await call(admin, 'revoke_enrollment_token', { enrollment_token_id: t.id });
      expect(again.error?.code).toBe('conflict');
    });
  });

  describe('list_instances', () => {
    let web: string[];
    let db: string[];

    beforeAll(async () => {
      web = await fleet('list-web', 3, { nginx: A });
      db = await fleet('list-db', 2, { nginx: B, redis: C });
      await call(admin, 'terminate_instance', { id: db[1] });
    });

    const idsOf = (list: InstanceView[]): string[] => list.map((i) => i.id).sort();

    it('filters by group name', async () => {
      const list = await listAllInstances(admin, { group: 'list-web' });
      expect(idsOf(list)).toEqual([...web].sort());
      expect(list[0]).toMatchObject({ group: 'list-web', status: 'running', running_module_digests: { nginx: A } });
    });

    it('filters by template_id given as id or name', async () => {
      const groupId = (await listAllInstances(admin, { group: 'list-db' }))[0]!.group_id;
      expect(idsOf(await listAllInstances(admin, { template_id: groupId }))).toEqual([...db].sort());
      expect(idsOf(await listAllInstances(admin, { template_id: 'list-db' }))).toEqual([...db].sort());
    });

    it('filters by status', async () => {
      const list = await listAllInstances(admin, { group: 'list-db', status: 'terminated' });
      expect(idsOf(list)).toEqual([db[1]]);
      expect(list[0]!.terminated_at).not.toBeNull();
      expect(idsOf(await listAllInstances(admin, { group: 'list-db', status: 'running' }))).toEqual([db[0]]);
    });

    it("filters by module_name + version: instances running that version's digest", async () => {
      const on124 = idsOf(await listAllInstances(admin, { module_name: 'nginx', version: '1.24.0' }));
      expect(on124).toEqual(expect.arrayContaining(web));
      expect(on124).not.toEqual(expect.arrayContaining([db[0]]));
      const on126 = await listAllInstances(admin, { group: 'list-db', module_name: 'nginx', version: ids.nginx126 });
      expect(idsOf(on126)).toEqual([...db].sort());
      expect(await listAllInstances(admin, { group: 'list-db', module_name: 'nginx', version: '1.24.0' })).toEqual([]);
      const redis = await listAllInstances(admin, { group: 'list-web', module_name: 'redis', version: '7.2.0' });
      expect(redis).toEqual([]);
    });

    it('refuses a module without a version with invalid_input', async () => {
      const res = await call(admin, 'list_instances', { module_name: 'nginx' });
      expect(res.error?.code).toBe('invalid_input');
    });

    it('refuses an unknown group with not_found', async () => {
      expect((await call(admin, 'list_instances', { group: 'list-nowhere' })).error?.code).toBe('not_found');
    });

    it('pages with limit and cursor through every instance once, in order', async () => {
      const group = await fleet('list-paged', 7);
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const res = await call(admin, 'list_instances', {
          group: 'list-paged',
          limit: 3,
          ...(cursor === null ? {} : { cursor }),
        });
        const page = res.data.instances as InstanceView[];
        expect(page.length).toBeLessThanOrEqual(3);
        seen.push(...page.map((i) => i.id));
        cursor = res.data.next_cursor as string | null;
        pages += 1;
      } while (cursor !== null);
      expect(pages).toBe(3);
      expect(seen).toEqual([...group].sort());
    });

    it('refuses a cursor it did not make with invalid_input', async () => {
      const res = await call(admin, 'list_instances', { cursor: 'not-a-cursor' });
      expect(res.error?.code).toBe('invalid_input');
    });
  });

  describe('get_instance', () => {
    it('shows desired_module_versions: the group baseline, and an override for the overridden instance', async () => {
      const [one, two] = await fleet('get-desired', 2, { nginx: A });
      await call(admin, 'assign_module_version', { group: 'get-desired', module_name: 'redis', version_id: '7.2.0' });
      await call(admin, 'assign_module_version', { group: 'get-desired', module_name: 'nginx', version_id: '1.24.0' });
      await call(admin, 'assign_module_version', {
        group: 'get-desired',
        module_name: 'nginx',
        version_id: '1.26.0',
        instance_ids: [one],
      });
      const a = await call(admin, 'get_instance', { id: one });
      const b = await call(admin, 'get_instance', { id: two });
      expect(a.data.instance).toMatchObject({
        id: one,
        group: 'get-desired',
        desired_module_versions: [
          { module_name: 'nginx', version: '1.26.0', version_id: ids.nginx126, digest: B },
          { module_name: 'redis', version: '7.2.0', version_id: ids.redis72, digest: C },
        ],
      });
      expect((b.data.instance as { desired_module_versions: unknown }).desired_module_versions).toEqual([
        { module_name: 'nginx', version: '1.24.0', version_id: ids.nginx124, digest: A },
        { module_name: 'redis', version: '7.2.0', version_id: ids.redis72, digest: C },
      ]);
    });

    it('refuses an unknown id with not_found', async () => {
      const res = await call(admin, 'get_instance', { id: '00000000-0000-4000-8000-000000000000' });
      expect(res.error?.code).toBe('not_found');
      expect((await call(admin, 'get_instance', { id: 'web-1' })).error?.code).toBe('not_found');
    });
  });

  describe('drift_report', () => {
    it('reports no drift for a group with nothing assigned', async () => {
      await fleet('drift-none', 2, { nginx: A });
      const res = await call(admin, 'drift_report', { group: 'drift-none' });
      expect(res.data).toMatchObject({ drift: false, instance_count: 2, drifted_count: 0, instances: [] });
    });

    it('reports no drift when every instance runs the desired digest', async () => {
      await fleet('drift-clean', 3, { nginx: A });
      await call(admin, 'assign_module_version', { group: 'drift-clean', module_name: 'nginx', version_id: '1.24.0' });
      const res = await call(admin, 'drift_report', { template_id: 'drift-clean' });
      expect(res.data).toMatchObject({
        drift: false,
        group: { name: 'drift-clean' },
        instance_count: 3,
        drifted_count: 0,
        instances: [],
      });
    });

    it('reports drift when one instance runs another digest, naming it', async () => {
      const [, odd] = await fleet('drift-one', 3, { nginx: A });
      await call(admin, 'assign_module_version', { group: 'drift-one', module_name: 'nginx', version_id: '1.24.0' });
      const t = await enrollmentTokenFor(admin, 'drift-one');
      const reenrolled = await enroll(url, t.token, 'drift-one-1');
      expect(reenrolled.instance_id).toBe(odd);
      await heartbeat(url, reenrolled.agent_token, { running_module_digests: { nginx: B }, health: 'ok' });
      const res = await call(admin, 'drift_report', { group: 'drift-one' });
      expect(res.data).toMatchObject({ drift: true, instance_count: 3, drifted_count: 1 });
      expect(res.data.instances).toEqual([
        {
          instance_id: odd,
          name: 'drift-one-1',
          status: 'running',
          module_name: 'nginx',
          desired_version: '1.24.0',
          desired_digest: A,
          running_digest: B,
        },
      ]);
    });

    it('reports drift when an instance is missing the module, and ignores terminated instances', async () => {
      const [, missing] = await fleet('drift-missing', 2, { nginx: A });
      await call(admin, 'assign_module_version', {
        group: 'drift-missing',
        module_name: 'nginx',
        version_id: '1.24.0',
      });
      await call(admin, 'assign_module_version', { group: 'drift-missing', module_name: 'redis', version_id: '7.2.0' });
      // Both lack redis: both drift.
      let res = await call(admin, 'drift_report', { group: 'drift-missing' });
      expect(res.data).toMatchObject({ drift: true, instance_count: 2, drifted_count: 2 });
      expect((res.data.instances as Array<{ running_digest: unknown }>).map((r) => r.running_digest)).toEqual([
        null,
        null,
      ]);
      // The first instance now reports redis too (re-enrolled with both digests); `missing` still lacks it.
      const t = await enrollmentTokenFor(admin, 'drift-missing');
      await enroll(url, t.token, 'drift-missing-0', { running_module_digests: { nginx: A, redis: C } });
      res = await call(admin, 'drift_report', { group: 'drift-missing' });
      expect(res.data).toMatchObject({ drift: true, instance_count: 2, drifted_count: 1 });
      expect(res.data.instances).toMatchObject([{ instance_id: missing, module_name: 'redis', running_digest: null }]);
      await call(admin, 'terminate_instance', { id: missing });
      res = await call(admin, 'drift_report', { group: 'drift-missing' });
      expect(res.data).toMatchObject({ drift: false, instance_count: 1, drifted_count: 0, instances: [] });
    });

    it('refuses neither group nor template_id with invalid_input', async () => {
      expect((await call(admin, 'drift_report', {})).error?.code).toBe('invalid_input');
    });
  });

  describe('terminate_instance', () => {
    it('terminates an instance with an event, and refuses to terminate it again', async () => {
      const [id] = await fleet('term', 1);
      const events = await countEvents(platform.store.db, 'instance.terminated');
      const res = await call(admin, 'terminate_instance', { id });
      expect(res.data.instance).toMatchObject({
        id,
        status: 'terminated',
        terminated_at: platform.clock.now().toISOString(),
      });
      expect(await countEvents(platform.store.db, 'instance.terminated')).toBe(events + 1);
      const again = await call(admin, 'terminate_instance', { id });
      expect(again.error?.code).toBe('conflict');
      expect(await countEvents(platform.store.db, 'instance.terminated')).toBe(events + 1);
    });

    it('lets the name enroll again as a new instance after termination', async () => {
      const t = await enrollmentTokenFor(admin, 'term-again');
      const first = await enroll(url, t.token, 'phoenix');
      await call(admin, 'terminate_instance', { id: first.instance_id });
      const second = await enroll(url, t.token, 'phoenix');
      expect(second.instance_id).not.toBe(first.instance_id);
    });

    it('refuses a viewer', async () => {
      const [id] = await fleet('term-viewer', 1);
      const viewer = await platform.memoryClient(await platform.operator('term-viewer', 'viewer'));
      expect((await call(viewer, 'terminate_instance', { id })).error?.code).toBe('forbidden');
    });
  });

  describe('assign_module_version', () => {
    let draftId: string;
    let archivedId: string;

    beforeAll(async () => {
      draftId = await publish(admin, 'nginx', '1.27.0-rc1', digest('d'), true);
      archivedId = await publish(admin, 'nginx', '1.22.0', digest('e'));
      const archived = await call(admin, 'promote_module_version', {
        version_id: archivedId,
        module_name: 'nginx',
        lifecycle_state: 'archived',
      });
      expect(archived.isError).toBe(false);
    });

    async function expectNothingWritten(args: Record<string, unknown>, code: string): Promise<void> {
      const [rows, events] = [await assignedRows(), await countEvents(platform.store.db, 'module.version.assigned')];
      const res = await call(admin, 'assign_module_version', args);
      expect(res.error?.code).toBe(code);
      expect(await assignedRows()).toBe(rows);
      expect(await countEvents(platform.store.db, 'module.version.assigned')).toBe(events);
    }

    it('sets a group baseline with an event', async () => {
      await fleet('assign-ok', 1);
      const events = await countEvents(platform.store.db, 'module.version.assigned');
      const res = await call(admin, 'assign_module_version', {
        group: 'assign-ok',
        module_name: 'nginx',
        version_id: '1.26.0',
      });
      expect(res.data).toMatchObject({
        group: { name: 'assign-ok' },
        module_name: 'nginx',
        version: '1.26.0',
        version_id: ids.nginx126,
        scope: 'group',
        instance_count: null,
      });
      expect(await countEvents(platform.store.db, 'module.version.assigned')).toBe(events + 1);
    });

    it('refuses a draft version with conflict, writing nothing', async () => {
      await fleet('assign-draft', 1);
      await expectNothingWritten({ group: 'assign-draft', module_name: 'nginx', version_id: draftId }, 'conflict');
      await expectNothingWritten({ group: 'assign-draft', module_name: 'nginx', version_id: '1.27.0-rc1' }, 'conflict');
    });

    it('refuses an archived version with conflict, writing nothing', async () => {
      await fleet('assign-archived', 1);
      await expectNothingWritten({ group: 'assign-archived', module_name: 'nginx', version_id: '1.22.0' }, 'conflict');
      await expectNothingWritten(
        { group: 'assign-archived', module_name: 'nginx', version_id: archivedId },
        'conflict',
      );
    });

    it('refuses instance_ids that are not in the group, writing nothing (not even the valid ones)', async () => {
      const [mine] = await fleet('assign-ids', 1);
      const [theirs] = await fleet('assign-other', 1);
      await expectNothingWritten(
        { group: 'assign-ids', module_name: 'nginx', version_id: '1.26.0', instance_ids: [mine, theirs] },
        'invalid_input',
      );
      const got = await call(admin, 'get_instance', { id: mine });
      expect((got.data.instance as { desired_module_versions: unknown[] }).desired_module_versions).toEqual([]);
    });

    it('refuses a terminated instance and an id that is not a uuid, writing nothing', async () => {
      const [alive, gone] = await fleet('assign-term', 2);
      await call(admin, 'terminate_instance', { id: gone });
      await expectNothingWritten(
        { group: 'assign-term', module_name: 'nginx', version_id: '1.26.0', instance_ids: [alive, gone] },
        'invalid_input',
      );
      await expectNothingWritten(
        { group: 'assign-term', module_name: 'nginx', version_id: '1.26.0', instance_ids: ['assign-term-0'] },
        'invalid_input',
      );
    });

    it('refuses an unknown group with not_found and a version without a module with invalid_input', async () => {
      await expectNothingWritten({ group: 'assign-nowhere', module_name: 'nginx', version_id: '1.26.0' }, 'not_found');
      await fleet('assign-nomodule', 1);
      await expectNothingWritten({ group: 'assign-nomodule', version_id: '1.26.0' }, 'invalid_input');
    });
  });
});
