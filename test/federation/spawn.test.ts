// Spawning child platforms as real processes (seed Tutorial 11, Steps 1–3 and Cleanup): the parent
// spawns over REST, the child redeems its bootstrap token on first boot, both sides list the peering
// active, the child's admin token (in a file, never in its log) works over MCP, and terminate_instance
// stops the child's process group. Also managed_child, a child dying before its handshake, refusals
// that write nothing, and cluster members on Postgres. At most one child process is alive at a time;
// every child is killed by process group after each test.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { Client as SdkClient } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { UnavailableError } from '../../src/errors.js';
import type { PlatformProvider } from '../../src/federation/spawn/provider.js';
import { connectHttpClient } from '../../src/mcp/client.js';
import { ManualClock, systemClock } from '../../src/scheduler/clock.js';
import { call, startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { createTestDatabase, silentLogger, TEST_DATABASE_URL } from '../helpers/store.js';

const CHILD_TIMEOUT = 180_000;

/** Polls `probe` until it returns a value other than undefined; fails naming `what` at the deadline. */
async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** Process groups of the children a test started, killed after each test whatever happened. */
class ChildGroups {
  private readonly pids = new Set<number>();
  add(pid: number): void {
    this.pids.add(pid);
  }
  async killAll(): Promise<void> {
    for (const pid of this.pids) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const pid of this.pids)
      await waitFor(`process group ${pid} to go`, async () => (groupAlive(pid) ? undefined : true), 15_000);
    this.pids.clear();
  }
}

type Peer = Record<string, unknown>;

describe('spawning child platforms (parent on pglite)', () => {
  let parent: TestPlatform;
  let admin: Client;
  let childrenDir: string;
  const groups = new ChildGroups();

  beforeAll(async () => {
    childrenDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flotilla-children-'));
    // A real clock: the child signs with its own, and signatures must be within ±5 minutes.
    parent = await startTestPlatform(
      'pglite',
      { clock: systemClock },
      { name: 'parent-a', region: 'eu-west-1', childrenDir },
    );
    admin = await parent.memoryClient();
  });
  afterEach(() => groups.killAll());
  afterAll(async () => {
    await groups.killAll();
    await parent?.close();
    fs.rmSync(childrenDir, { recursive: true, force: true });
  });

  const peersOf = async (client: Client): Promise<Peer[]> =>
    (await call(client, 'list_federation_peers')).data.peers as Peer[];
  const childRow = (id: string) =>
    parent.store.db.selectFrom('spawned_children').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const counts = async () => ({
    peers: (await parent.store.db.selectFrom('federation_peers').select('id').execute()).length,
    children: (await parent.store.db.selectFrom('spawned_children').select('id').execute()).length,
    dirs: fs.readdirSync(childrenDir).length,
  });
  const activeOnParent = (name: string) =>
    waitFor(`${name} active on the parent`, async () => {
      const peer = (await peersOf(admin)).find((p) => p.name === name);
      return peer?.status === 'active' ? peer : undefined;
    });

  it(
    'follows the tutorial: spawn over REST, the child federates on first boot, terminate stops its process group',
    async () => {
      const res = await fetch(`${parent.app.http!.url}/api/v1/federation/children/spawn`, {
        method: 'POST',
        headers: { authorization: `Bearer ${parent.adminToken}`, 'content-type': 'application/json' },
        // The tutorial's body, verbatim in its field names.
        body: JSON.stringify({
          spawn_mode: 'autonomous_peer',
          child_template_id: 'flotilla-platform',
          child_provider_region_id: 'us-east-1',
          child_provider_instance_type_id: 'local',
          child_hostname: 'child-platform-1',
        }),
      });
      const spawned = (await res.json()) as {
        acceptance_token: string;
        child_instance_id: string;
        child: { pid: number; data_dir: string; url: string };
      };
      expect(res.status, JSON.stringify(spawned)).toBe(200);
      groups.add(spawned.child.pid);
      expect(spawned).toMatchObject({
        federation_peer: {
          name: 'child-platform-1',
          status: 'proposed',
          spawn_role: 'parent',
          spawn_mode: 'autonomous_peer',
        },
        child_instance_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        acceptance_token: expect.stringMatching(/^fpa_/),
        child: { status: 'starting', provider: 'local_process', spawn_mode: 'autonomous_peer', region: 'us-east-1' },
      });
      const id = spawned.child_instance_id;
      const { pid, data_dir: dir, url: childUrl } = spawned.child;

      // Step 2–3: the handshake completes by itself; both sides show the peering active.
      const onParent = await activeOnParent('child-platform-1');
      expect(onParent).toMatchObject({
        spawn_role: 'parent',
        spawn_mode: 'autonomous_peer',
        remote_platform_url: childUrl,
        contract_version: '1.0',
        region: 'us-east-1',
        child_instance_id: id,
      });
      await parent.app.reconciler.tickOnce();
      expect((await childRow(id)).status).toBe('running');

      const adminTokenFile = path.join(dir, 'admin-token');
      const childToken = await waitFor('the child admin-token file', async () =>
        fs.existsSync(adminTokenFile) ? fs.readFileSync(adminTokenFile, 'utf8').trim() : undefined,
      );
      expect(fs.statSync(adminTokenFile).mode & 0o777).toBe(0o600);
      const childClient = await connectHttpClient(childUrl, childToken);
      try {
        const listed = await waitFor('the peering active on the child', async () => {
          const result = await childClient.callTool('list_federation_peers', {});
          const peers = (result.structured as { peers: Peer[] }).peers;
          return peers[0]?.status === 'active' ? peers : undefined;
        });
        expect(listed).toEqual([
          expect.objectContaining({
            name: 'parent-a',
            spawn_role: 'child',
            spawn_mode: 'autonomous_peer',
            status: 'active',
            remote_platform_url: parent.app.http!.url,
            region: 'eu-west-1',
            child_instance_id: null,
          }),
        ]);

        // Step 2: the parent's event stream shows the accepted peering.
        const events = await call(admin, 'recent_events', { kind_prefix: 'federation.', limit: 20 });
        expect(events.data.events).toEqual(
          expect.arrayContaining([
            expect.objectContaining({
              kind: 'federation.peer.accepted',
              payload: expect.objectContaining({
                peer_id: onParent.id,
                peer_kind: 'platform',
                spawn_role: 'parent',
                spawn_mode: 'autonomous_peer',
                contract_version: '1.0',
              }),
            }),
          ]),
        );

        // Step 4: data residency, the tutorial's call verbatim.
        const residency = await call(admin, 'set_data_residency', {
          federation_peer_id: onParent.id,
          policy: {
            resource_kinds: ['secrets', 'credentials'],
            constraint: 'must_not_leave_region',
            region: 'eu-west-1',
          },
        });
        expect(residency.isError, JSON.stringify(residency.error)).toBe(false);

        // Step 5: the WORM audit log, sequence from 1.
        const worm = await call(admin, 'get_audit_log', { federation_peer_id: onParent.id });
        const entries = worm.data.entries as Array<{ sequence: number; action: string; actor: string }>;
        expect(entries.map((e) => e.sequence)).toEqual(entries.map((_, i) => i + 1));
        expect(entries[0]).toMatchObject({ sequence: 1, action: 'federation.proposed' });
        expect(entries.map((e) => e.action)).toEqual(
          expect.arrayContaining(['federation.accepted', 'data_residency.set']),
        );
        expect((await call(admin, 'verify_audit_log', { federation_peer_id: onParent.id })).data).toMatchObject({
          valid: true,
          first_bad_sequence: null,
        });

        // Step 6: the boundary, default deny plus the agreed capability.
        for (const rule of [
          { action: 'drop', capability: '*', priority: 100 },
          { action: 'accept', capability: 'inventory.read', priority: 10 },
        ]) {
          const created = await call(admin, 'create_boundary_rule', {
            federation_peer_id: onParent.id,
            direction: 'ingress',
            ...rule,
          });
          expect(created.isError, JSON.stringify(created.error)).toBe(false);
        }

        // Step 7: the routing summary of our world.
        const topology = await call(admin, 'get_federation_topology');
        const entry = (topology.data.peers as Array<Record<string, unknown>>).find(
          (p) => p.name === 'child-platform-1',
        );
        expect(entry).toMatchObject({ status: 'active', remote_platform_url: childUrl });
        expect(JSON.stringify(entry)).toContain('inventory.read');

        // Cleanup, as the tutorial: revoke by id (the child is told and shows it revoked), then terminate.
        const revoked = await call(admin, 'revoke_federation_peer', { id: onParent.id });
        expect(revoked.data).toMatchObject({ federation_peer: { status: 'revoked' }, remote_notified: true });
        const onChild = (await childClient.callTool('list_federation_peers', {})).structured as { peers: Peer[] };
        expect(onChild.peers[0]).toMatchObject({ name: 'parent-a', status: 'revoked' });
      } finally {
        await childClient.close();
      }

      // The token was redeemed once and is gone from the bootstrap file; nothing secret is in the log.
      const bootstrap = JSON.parse(fs.readFileSync(path.join(dir, 'bootstrap.json'), 'utf8')) as Record<
        string,
        unknown
      >;
      expect(bootstrap).toMatchObject({
        acceptance_token: null,
        completed_at: expect.any(String),
        parent_url: parent.app.http!.url,
        contract_version: '1.0',
        spawn_mode: 'autonomous_peer',
        child_name: 'child-platform-1',
        region: 'us-east-1',
      });
      expect(fs.statSync(path.join(dir, 'bootstrap.json')).mode & 0o777).toBe(0o600);
      const log = fs.readFileSync(path.join(dir, 'platform.log'), 'utf8');
      expect(log).toContain('MCP listening at');
      expect(log).not.toContain(spawned.acceptance_token);
      expect(log).not.toContain(childToken);
      expect(log).not.toMatch(/fpa_[A-Za-z0-9_-]{20}|flo_[A-Za-z0-9_-]{20}/);

      // Cleanup: terminate_instance stops the whole process group; the peering stays until revoked.
      const terminated = await call(admin, 'terminate_instance', { instance_id: id });
      expect(terminated.isError, JSON.stringify(terminated.error)).toBe(false);
      expect(terminated.data).toMatchObject({
        kind: 'platform_child',
        instance: null,
        platform_child: { child_instance_id: id, status: 'terminated', stopped_with: 'SIGTERM' },
      });
      expect(processAlive(pid)).toBe(false);
      expect(groupAlive(pid)).toBe(false);
      expect(await childRow(id)).toMatchObject({ status: 'terminated', terminated_at: expect.any(Date) });
      const audit = await call(admin, 'get_audit_log', { federation_peer_id: 'child-platform-1' });
      const actions = (audit.data.entries as Array<{ action: string; payload: Record<string, unknown> }>).map(
        (e) => e.action,
      );
      expect(actions).toEqual(
        expect.arrayContaining([
          'federation.proposed',
          'federation.child.spawned',
          'federation.accepted',
          'federation.child.terminated',
        ]),
      );
      expect(actions.indexOf('federation.child.terminated')).toBe(actions.length - 1);
      expect((await peersOf(admin)).find((p) => p.name === 'child-platform-1')).toBeDefined();

      const again = await call(admin, 'terminate_instance', { id });
      expect(again.error?.code).toBe('conflict');
      expect((await childRow(id)).status).toBe('terminated');
    },
    CHILD_TIMEOUT,
  );

  it(
    'spawns a managed_child that both sides list as managed_child, with its 365-day grants on both sides',
    async () => {
      const spawned = await call(admin, 'spawn_child_platform', {
        spawn_mode: 'managed_child',
        child_name: 'managed-1',
      });
      expect(spawned.isError, JSON.stringify(spawned.error)).toBe(false);
      const child = spawned.data.child as { pid: number; data_dir: string; url: string };
      groups.add(child.pid);
      expect(spawned.data).toMatchObject({
        federation_peer: { status: 'proposed', spawn_mode: 'managed_child', spawn_role: 'parent' },
        child: { region: 'eu-west-1' }, // the parent's by default
      });
      expect(await activeOnParent('managed-1')).toMatchObject({ spawn_mode: 'managed_child', spawn_role: 'parent' });

      const tokenFile = path.join(child.data_dir, 'admin-token');
      const token = await waitFor('the child admin-token file', async () =>
        fs.existsSync(tokenFile) ? fs.readFileSync(tokenFile, 'utf8').trim() : undefined,
      );
      const childClient = await connectHttpClient(child.url, token);
      try {
        const peers = await waitFor('the peering active on the child', async () => {
          const list = (await childClient.callTool('list_federation_peers', {})).structured as { peers: Peer[] };
          return list.peers[0]?.status === 'active' ? list.peers : undefined;
        });
        expect(peers[0]).toMatchObject({ name: 'parent-a', spawn_role: 'child', spawn_mode: 'managed_child' });

        // The managed_child grants: the parent's mirror landed at accept, the child's own on its first run.
        const yearFromNow = (iso: unknown) =>
          Math.abs(new Date(iso as string).getTime() - (Date.now() + 365 * 86_400_000)) < 3_600_000;
        const onParent = (await call(admin, 'list_federation_grants', { federation_peer_id: 'managed-1' })).data
          .grants as Peer[];
        expect(onParent).toEqual([
          expect.objectContaining({ direction: 'received', scopes: ['read', 'write', 'admin'], status: 'active' }),
        ]);
        expect(yearFromNow(onParent[0]!.expires_at)).toBe(true);
        const grantsOnChild = await waitFor('the child-side grant', async () => {
          const list = (await childClient.callTool('list_federation_grants', {})).structured as { grants: Peer[] };
          return list.grants.length > 0 ? list.grants : undefined;
        });
        expect(grantsOnChild).toEqual([
          expect.objectContaining({
            direction: 'issued',
            peer_name: 'parent-a',
            scopes: ['read', 'write', 'admin'],
            status: 'active',
          }),
        ]);
        expect(yearFromNow(grantsOnChild[0]!.expires_at)).toBe(true);
      } finally {
        await childClient.close();
      }
      const terminated = await call(admin, 'terminate_instance', { id: spawned.data.child_instance_id });
      expect(terminated.data.platform_child).toMatchObject({ status: 'terminated' });
      expect(groupAlive(child.pid)).toBe(false);
    },
    CHILD_TIMEOUT,
  );

  it(
    'marks a child failed when its process dies before the handshake; terminate then records it',
    async () => {
      const spawned = await call(admin, 'spawn_child_platform', {
        spawn_mode: 'autonomous_peer',
        child_name: 'doomed-1',
      });
      expect(spawned.isError, JSON.stringify(spawned.error)).toBe(false);
      const id = spawned.data.child_instance_id as string;
      const pid = (spawned.data.child as { pid: number }).pid;
      groups.add(pid);
      process.kill(-pid, 'SIGKILL');
      await waitFor('the killed child to go', async () => (groupAlive(pid) ? undefined : true), 15_000);

      await parent.app.reconciler.tickOnce();
      const row = await childRow(id);
      expect(row.status).toBe('failed');
      expect(row.last_error).toContain('exited before it completed the handshake');
      expect(row.last_error).toContain(path.join(childrenDir, id, 'platform.log'));
      expect((await peersOf(admin)).find((p) => p.name === 'doomed-1')).toMatchObject({ status: 'proposed' });

      const terminated = await call(admin, 'terminate_instance', { id });
      expect(terminated.data.platform_child).toMatchObject({ status: 'terminated', stopped_with: 'already_exited' });
    },
    CHILD_TIMEOUT,
  );

  it('refuses cluster_member on the embedded store with a hint, writing nothing and starting nothing', async () => {
    const before = await counts();
    const res = await call(admin, 'spawn_child_platform', { spawn_mode: 'cluster_member', child_name: 'replica-1' });
    expect(res.error?.code).toBe('conflict');
    expect(res.error?.message).toContain('embedded store (PGlite)');
    expect(res.error?.hint).toContain('--database-url postgres://');
    expect(await counts()).toEqual(before);
  });

  it('refuses spawning to an operator below admin, and terminating a child to a non-admin, changing nothing', async () => {
    const operator = await parent.memoryClient(await parent.operator('otto', 'operator'));
    const before = await counts();
    const res = await call(operator, 'spawn_child_platform', { spawn_mode: 'autonomous_peer', child_name: 'nope-1' });
    expect(res.error?.code).toBe('forbidden');
    expect(await counts()).toEqual(before);

    const anyChild = await parent.store.db
      .selectFrom('spawned_children')
      .select(['id', 'status'])
      .executeTakeFirstOrThrow();
    const refused = await call(operator, 'terminate_instance', { id: anyChild.id });
    expect(refused.error?.code).toBe('forbidden');
    expect(refused.error?.message).toContain('needs the admin role');
    expect((await childRow(anyChild.id)).status).toBe(anyChild.status);
  });

  it('keeps terminate_instance working for fleet ids: an unknown instance is not_found', async () => {
    const res = await call(admin, 'terminate_instance', { id: '00000000-0000-4000-8000-000000000000' });
    expect(res.error?.code).toBe('not_found');
  });
});

describe('a provider that cannot start the child', () => {
  let parent: TestPlatform;
  let admin: Client;
  const failing: PlatformProvider = {
    name: 'local_process',
    start: async () => {
      throw new UnavailableError('no capacity');
    },
    stop: async () => 'already_exited',
    isAlive: () => false,
  };

  beforeAll(async () => {
    parent = await startTestPlatform('pglite', { spawnProvider: failing });
    admin = await parent.memoryClient();
  });
  afterAll(() => parent?.close());

  it('answers the error and withdraws the proposal, so its token is dead', async () => {
    const res = await call(admin, 'spawn_child_platform', { spawn_mode: 'autonomous_peer', child_name: 'never-1' });
    expect(res.error).toMatchObject({ code: 'unavailable', message: 'no capacity' });
    const peers = (await call(admin, 'list_federation_peers')).data.peers as Peer[];
    expect(peers).toEqual([expect.objectContaining({ name: 'never-1', status: 'revoked' })]);
    expect(await parent.store.db.selectFrom('spawned_children').selectAll().execute()).toEqual([]);
  });
});

describe.runIf(TEST_DATABASE_URL !== undefined)('cluster members on postgres', () => {
  const TICK_MS = 500;
  let app: App;
  let admin: Client;
  let dropDatabase: () => Promise<void>;
  let childrenDir: string;
  const clock = new ManualClock();
  const groups = new ChildGroups();

  beforeAll(async () => {
    childrenDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flotilla-members-'));
    const database = await createTestDatabase();
    dropDatabase = database.drop;
    clock.set(new Date());
    app = await createApp(
      {
        host: '127.0.0.1',
        port: 0,
        name: 'primary',
        region: 'eu-west-1',
        tickMs: TICK_MS,
        databaseUrl: database.url,
        allowedOrigins: [],
        childrenDir,
      },
      { clock, logger: silentLogger, startReconciler: false },
    );
    const token = app.bootstrap!.token;
    const server = app.createMcpServer(() => app.services.operators.authenticate(token));
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await server.connect(serverSide);
    admin = new SdkClient({ name: 'flotilla-test', version: '0.0.0' });
    await admin.connect(clientSide);
  });
  afterEach(() => groups.killAll());
  afterAll(async () => {
    await groups.killAll();
    await admin?.close();
    await app?.close();
    await dropDatabase?.();
    fs.rmSync(childrenDir, { recursive: true, force: true });
  });

  /** The parent's cluster_members list, read at the real time now (+ `aheadMs`). */
  const members = async (aheadMs = 0): Promise<Peer[]> => {
    clock.set(new Date(Date.now() + aheadMs));
    const res = await call(admin, 'list_federation_peers');
    return res.data.cluster_members as Peer[];
  };
  const spawnMember = async (name: string): Promise<{ id: string; pid: number }> => {
    const res = await call(admin, 'spawn_child_platform', { spawn_mode: 'cluster_member', child_name: name });
    expect(res.isError, JSON.stringify(res.error)).toBe(false);
    expect(res.data).toMatchObject({
      federation_peer: null,
      acceptance_token: null,
      child: { spawn_mode: 'cluster_member', status: 'starting', federation_peer_id: null },
    });
    const pid = (res.data.child as { pid: number }).pid;
    groups.add(pid);
    return { id: res.data.child_instance_id as string, pid };
  };
  const activeMember = (id: string) =>
    waitFor(`member ${id} active`, async () => {
      const found = (await members()).find((m) => m.id === id);
      return found?.status === 'active' ? found : undefined;
    });

  it('lists no other member while this process is alone, and registers itself', async () => {
    expect(await members()).toEqual([]);
    const self = await app.store.db.selectFrom('cluster_members').selectAll().execute();
    expect(self).toEqual([expect.objectContaining({ name: 'primary', pid: process.pid, stopped_at: null })]);
  });

  it(
    'lists a spawned member as cluster_member/active; terminated, it is no longer listed',
    async () => {
      const { id, pid } = await spawnMember('replica-1');
      expect(await activeMember(id)).toMatchObject({
        name: 'replica-1',
        spawn_mode: 'cluster_member',
        spawn_role: 'member',
        region: 'eu-west-1',
        child_instance_id: id,
        remote_platform_url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
      });
      await app.reconciler.tickOnce();
      expect(
        (
          await app.store.db
            .selectFrom('spawned_children')
            .select('status')
            .where('id', '=', id)
            .executeTakeFirstOrThrow()
        ).status,
      ).toBe('running');

      const terminated = await call(admin, 'terminate_instance', { id });
      expect(terminated.data.platform_child).toMatchObject({ status: 'terminated', stopped_with: 'SIGTERM' });
      expect(groupAlive(pid)).toBe(false);
      expect((await members()).map((m) => m.id)).not.toContain(id);
    },
    CHILD_TIMEOUT,
  );

  it(
    'shows a member that stopped answering as lost_contact after 3 ticks',
    async () => {
      const { id, pid } = await spawnMember('replica-2');
      await activeMember(id);
      process.kill(-pid, 'SIGKILL'); // a crash: no clean stop
      await waitFor('the member to go', async () => (groupAlive(pid) ? undefined : true), 15_000);
      const row = await app.store.db
        .selectFrom('cluster_members')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirstOrThrow();
      const lastSeen = row.last_seen_at.getTime();
      clock.set(new Date(lastSeen + 3 * TICK_MS));
      expect((await call(admin, 'list_federation_peers')).data.cluster_members).toEqual([
        expect.objectContaining({ id, status: 'active' }),
      ]);
      clock.set(new Date(lastSeen + 3 * TICK_MS + 1));
      expect((await call(admin, 'list_federation_peers')).data.cluster_members).toEqual([
        expect.objectContaining({ id, status: 'lost_contact' }),
      ]);

      const terminated = await call(admin, 'terminate_instance', { id });
      expect(terminated.data.platform_child).toMatchObject({ status: 'terminated', stopped_with: 'already_exited' });
      expect(await members()).toEqual([]);
    },
    CHILD_TIMEOUT,
  );
});
