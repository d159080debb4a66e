// Two real platforms as child processes (real clocks, real kills): they federate as parent and managed
// child, heartbeat each other, and the child's side sees the parent lost_contact when it is killed.
// The child then emancipates itself, which queues a signed grants.changed call for the parent; the
// child is killed too, both come back on the same ports and data, and the call is delivered from the
// persisted outbox and applied exactly once; both sides show each other active again.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FlotillaClient } from '../../src/mcp/client.js';
import {
  ChildSet,
  makeTempDir,
  processDatabases,
  restartServed,
  startServed,
  type ProcessDatabases,
  type ServedPlatform,
  type TempDir,
} from '../helpers/cli.js';
import { waitFor as waitForCondition } from '../helpers/fleet.js';
import { STORE_KINDS } from '../helpers/store.js';

/** Child processes on a loaded CI machine take their time: generous deadlines, still never fixed sleeps. */
const DEADLINE_MS = 90_000;
const waitFor = <T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = DEADLINE_MS): Promise<T> =>
  waitForCondition(what, check, timeoutMs);

type Side = ServedPlatform;

describe.each(STORE_KINDS)('peers killed and restarted mid-conversation on %s', (kind) => {
  const children = new ChildSet();
  let tmp: TempDir;
  let databases: ProcessDatabases;
  const clients: FlotillaClient[] = [];

  beforeAll(() => {
    tmp = makeTempDir('flotilla-peer-restart-');
    databases = processDatabases(kind, tmp);
  });
  afterEach(async () => {
    await Promise.allSettled(clients.splice(0).map((c) => c.close()));
    await children.killAll();
  });
  afterAll(async () => {
    await databases.dropAll();
    tmp.remove();
  });

  async function start(name: string, region: string): Promise<Side> {
    const side = await startServed(children, name, [
      ...['--region', region, '--database-url', await databases.url(name)],
      ...['--tick-ms', '100', '--peer-heartbeat-ms', '300', '--log-level', 'warn'],
    ]);
    clients.push(side.client);
    return side;
  }

  async function restart(side: Side): Promise<void> {
    await restartServed(children, side);
    clients.push(side.client);
  }

  async function tool(side: Side, name: string, args: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const res = await side.client.callTool(name, args);
    if (res.isError) throw new Error(`${side.name} ${name}: ${res.text}`);
    return res.structured as Record<string, unknown>;
  }

  async function onlyPeer(side: Side): Promise<Record<string, unknown>> {
    const peers = (await tool(side, 'list_federation_peers')).peers as Array<Record<string, unknown>>;
    expect(peers).toHaveLength(1);
    return peers[0]!;
  }

  it('delivers a queued call once across kills of both sides, and contact recovers', async () => {
    const parent = await start('alpha', 'eu-west-1');
    const child = await start('beta', 'eu-west-1');
    const proposed = await tool(parent, 'propose_federation_peer', { name: 'beta', spawn_mode: 'managed_child' });
    await tool(child, 'accept_federation_peer', {
      parent_url: parent.url,
      acceptance_token: proposed.acceptance_token,
    });
    // Heartbeats both ways: each side has heard from the other.
    await waitFor('heartbeats both ways', async () => {
      const [p, c] = [await onlyPeer(parent), await onlyPeer(child)];
      return p.status === 'active' && c.status === 'active' && p.last_rtt_ms !== null && c.last_rtt_ms !== null;
    });

    await parent.child.stop('SIGKILL');
    await waitFor('the child to see its parent lost', async () => (await onlyPeer(child)).status === 'lost_contact');
    const stale = await tool(child, 'recent_events', { kind_prefix: 'federation.peer.heartbeat_stale' });
    expect((stale.events as unknown[]).length).toBeGreaterThanOrEqual(1);

    // Emancipation on the child while the parent is down: queued, retried, not lost.
    const grants = (await tool(child, 'list_federation_grants', { status: 'active' })).grants as Array<{ id: string }>;
    expect(grants).toHaveLength(1);
    await tool(child, 'revoke_federation_grant', { grant_id: grants[0]!.id, reason: 'emancipation' });
    expect((await onlyPeer(child)).spawn_mode).toBe('autonomous_peer');
    const retried = await waitFor('the call to be retried', async () => {
      const calls = (await tool(child, 'list_federation_outbox', { status: 'pending' })).calls as Array<
        Record<string, unknown>
      >;
      return calls.length === 1 && (calls[0]!.attempts as number) >= 2 && calls[0];
    });
    expect(retried).toMatchObject({ operation: 'grants.changed', status: 'pending' });
    expect(retried.last_error).toMatch(/unreachable/);

    // The child dies too, with the call still queued; both come back.
    await child.child.stop('SIGKILL');
    await restart(parent);
    await restart(child);

    const delivered = await waitFor('the queued call to be delivered', async () => {
      const calls = (await tool(child, 'list_federation_outbox', { federation_peer_id: 'alpha' })).calls as Array<
        Record<string, unknown>
      >;
      return calls[0]?.status === 'delivered' && calls[0];
    });
    expect(delivered).toMatchObject({ operation: 'grants.changed', response_status: 200 });
    await waitFor('the parent to apply the emancipation', async () => {
      return (await onlyPeer(parent)).spawn_mode === 'autonomous_peer';
    });
    const log = (await tool(parent, 'get_audit_log', { federation_peer_id: 'beta', limit: 500 })).entries as Array<{
      action: string;
      payload: Record<string, unknown>;
    }>;
    const applied = log.filter((e) => e.action === 'peer.call.received' && e.payload.operation === 'grants.changed');
    expect(applied).toHaveLength(1);
    await waitFor('both sides active again', async () => {
      const [p, c] = [await onlyPeer(parent), await onlyPeer(child)];
      return p.status === 'active' && c.status === 'active';
    });
    const recovered = await tool(child, 'recent_events', { kind_prefix: 'federation.peer.recovered' });
    expect((recovered.events as unknown[]).length).toBeGreaterThanOrEqual(1);
    for (const side of [parent, child]) {
      expect(
        (await tool(side, 'verify_audit_log', { federation_peer_id: side === parent ? 'beta' : 'alpha' })).valid,
      ).toBe(true);
    }
  }, 600_000);
});
