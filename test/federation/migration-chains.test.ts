// Multi-hop migration chains over four real platforms on loopback HTTP: a → b → c → d, each peering
// proposed by the hop before (a knows only b, b knows a and c, and so on). Every platform has an admin
// `lead` (the operator the chain acts for on every hop) and an approver `checker` (the second pair of
// eyes at each gate). Outboxes are delivered by hand; clocks are manual; nothing sleeps.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APPROVAL_TTL_MS } from '../../src/domain/approvals.js';
import type { Migration } from '../../src/domain/migration-chain.js';
import type { Caller } from '../../src/domain/roles.js';
import type { MigrationChainView } from '../../src/services/migration-chains-service.js';
import { call, startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { bindPeerOperator, federatePair, rejection } from '../helpers/federation.js';
import { randomDigest } from '../helpers/rollouts.js';
import { STORE_KINDS } from '../helpers/store.js';

interface Site {
  name: string;
  p: TestPlatform;
  lead: Caller;
  leadToken: string;
  checker: Caller;
}

describe.each(STORE_KINDS)('migration chains across four platforms on %s', (kind) => {
  let a: Site;
  let b: Site;
  let c: Site;
  let d: Site;
  let sites: Site[];
  let leadClient: Client;

  async function site(name: string): Promise<Site> {
    const p = await startTestPlatform(kind, {}, { name });
    const leadToken = await p.operator('lead', 'admin');
    await p.operator('checker', 'approver');
    const ops = p.app.services.operators;
    return { name, p, lead: await ops.callerByName('lead'), leadToken, checker: await ops.callerByName('checker') };
  }

  beforeAll(async () => {
    a = await site('a');
    b = await site('b');
    c = await site('c');
    d = await site('d');
    sites = [a, b, c, d];
    await federatePair(a.p, b.p, { name: 'b' });
    await federatePair(b.p, c.p, { name: 'c' });
    await federatePair(c.p, d.p, { name: 'd' });
    for (const [on, upstream] of [
      [b, a],
      [c, b],
      [d, c],
    ] as const) {
      await bindPeerOperator(on.p, upstream.name, 'lead');
    }
    leadClient = await a.p.memoryClient(a.leadToken);
  }, 60_000);

  afterAll(async () => {
    for (const s of sites ?? []) await s.p.close();
  });

  /** Delivers every platform's outbox until a whole pass settles nothing (relays and reports ripple on). */
  async function drain(): Promise<void> {
    for (let round = 0; round < 20; round++) {
      let settled = 0;
      for (const s of sites) settled += await s.p.app.services.federation.calls.deliverDue(s.p.clock.now());
      if (settled === 0) return;
    }
    throw new Error('outboxes did not drain in 20 rounds');
  }

  const migration = (module: string, digest = randomDigest()): Migration => ({
    kind: 'publish_module_version',
    module_name: module,
    version: '1.0.0',
    digest,
  });

  async function versionOn(s: Site, module: string): Promise<string | null> {
    const row = await s.p.store.db
      .selectFrom('module_versions')
      .innerJoin('modules', 'modules.id', 'module_versions.module_id')
      .select('module_versions.digest')
      .where('modules.name', '=', module)
      .where('module_versions.version', '=', '1.0.0')
      .executeTakeFirst();
    return row?.digest ?? null;
  }

  async function chainOn(s: Site, id: string): Promise<MigrationChainView | null> {
    return s.p.app.services.migrationChains.get(id).catch(() => null);
  }

  const statuses = (v: MigrationChainView): string[] => v.hops.map((h) => h.status);

  /** The gate of `id` on `s`: approved or rejected by its checker. */
  async function decide(s: Site, id: string, decision: 'approve' | 'reject', reason?: string): Promise<void> {
    const view = (await chainOn(s, id))!;
    const gate = view.hops.find((h) => h.hopIndex === view.chain.hopIndex)!.approvalRequestId!;
    await s.p.app.services.approvals.decide(s.checker, {
      id: gate,
      decision,
      ...(reason === undefined ? {} : { reason }),
    });
  }

  async function actions(s: Site, peer: string): Promise<string[]> {
    const { page } = await s.p.app.services.federation.auditLog(peer, { limit: 500 });
    return page.items.map((e) => e.action);
  }

  async function counts(s: Site): Promise<Record<string, number>> {
    const db = s.p.store.db;
    const n = async (table: 'migration_chains' | 'federation_outbox' | 'approval_requests' | 'module_versions') =>
      Number((await db.selectFrom(table).select(db.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n);
    return {
      chains: await n('migration_chains'),
      outbox: await n('federation_outbox'),
      approvals: await n('approval_requests'),
      versions: await n('module_versions'),
    };
  }

  it('applies a chain a → b → c on every hop once each gate is approved, and a sees every hop', async () => {
    const m = migration('chain-ok');
    const started = await call(leadClient, 'start_migration_chain', { migration: m, path: ['b', 'c'] });
    expect(started.error).toBeUndefined();
    const view = started.data.migration_chain as { migration_chain_id: string; hops: Array<{ status: string }> };
    const id = view.migration_chain_id;
    expect(view.hops.map((h) => h.status)).toEqual(['relayed', 'pending', 'pending']);
    expect(await versionOn(a, 'chain-ok')).toBe(m.digest);

    await drain();
    // b waits at its gate and has not applied anything; a hears that.
    expect(await versionOn(b, 'chain-ok')).toBeNull();
    expect(statuses((await chainOn(a, id))!)).toEqual(['relayed', 'awaiting_approval', 'pending']);
    const atB = (await chainOn(b, id))!;
    expect(atB.chain.hopIndex).toBe(1);
    const gate = await b.p.app.services.approvals.get(atB.hops[0]!.approvalRequestId!);
    expect(gate).toMatchObject({ kind: 'migration_hop', requestedBy: 'lead', status: 'pending', fourEyes: true });
    // The review_approval prompt renders the gate: what arrives, from where, where it goes next.
    const checkerOnB = await b.p.memoryClient(await b.p.operator('reviewer', 'approver'));
    const prompt = await checkerOnB.getPrompt({ name: 'review_approval', arguments: { approval_request_id: gate.id } });
    const text = (prompt.messages[0]!.content as { text: string }).text;
    expect(prompt.description).toContain('Migration chain gate');
    expect(text).toContain('from a as hop 1');
    expect(text).toContain('relays it to c');
    expect(await chainOn(c, id)).toBeNull();

    await decide(b, id, 'approve');
    expect(await versionOn(b, 'chain-ok')).toBe(m.digest);
    await drain();
    expect(statuses((await chainOn(a, id))!)).toEqual(['relayed', 'relayed', 'awaiting_approval']);
    expect(await versionOn(c, 'chain-ok')).toBeNull();

    await decide(c, id, 'approve');
    await drain();
    expect(await versionOn(c, 'chain-ok')).toBe(m.digest);
    const got = await call(leadClient, 'get_migration_chain', { migration_chain_id: id });
    expect(got.error).toBeUndefined();
    const final = got.data.migration_chain as {
      state: string;
      hops: Array<{ platform_name: string; status: string; decided_by: string | null; decided_at: string | null }>;
    };
    expect(final.state).toBe('completed');
    expect(final.hops.map((h) => [h.platform_name, h.status, h.decided_by])).toEqual([
      ['a', 'relayed', 'lead'],
      ['b', 'relayed', 'checker'],
      ['c', 'applied', 'checker'],
    ]);
    expect(final.hops.every((h) => h.decided_at !== null)).toBe(true);
    expect(await versionOn(d, 'chain-ok')).toBeNull();

    // Both sides of each link wrote it down.
    expect(await actions(a, 'b')).toEqual(
      expect.arrayContaining(['migration.hop.relayed', 'migration.hop.report_received']),
    );
    expect(await actions(b, 'a')).toEqual(
      expect.arrayContaining(['migration.hop.received', 'migration.hop.reported', 'migration.hop.relayed']),
    );
    expect(await actions(b, 'c')).toEqual(
      expect.arrayContaining(['migration.hop.relayed', 'migration.hop.report_received']),
    );
    expect(await actions(c, 'b')).toEqual(
      expect.arrayContaining(['migration.hop.received', 'migration.hop.reported', 'migration.hop.applied']),
    );
    const listed = await call(leadClient, 'list_migration_chains', { limit: 10 });
    expect(
      (listed.data.migration_chains as Array<{ migration_chain_id: string }>).map((x) => x.migration_chain_id),
    ).toContain(id);
  });

  it('keeps four-eyes at a gate: the operator the chain acts for cannot approve it', async () => {
    const view = await a.p.app.services.migrationChains.start(a.lead, {
      migration: migration('chain-4eyes'),
      path: ['b'],
    });
    await drain();
    const atB = (await chainOn(b, view.chain.id))!;
    const err = await rejection(
      b.p.app.services.approvals.decide(b.lead, { id: atB.hops[0]!.approvalRequestId!, decision: 'approve' }),
    );
    expect(err.code).toBe('forbidden');
    expect(await versionOn(b, 'chain-4eyes')).toBeNull();
    expect(statuses((await chainOn(b, view.chain.id))!)).toEqual(['awaiting_approval']);
  });

  it('stops at a rejected gate on c: d is untouched and a shows c rejected', async () => {
    const m = migration('chain-reject');
    const { chain } = await a.p.app.services.migrationChains.start(a.lead, { migration: m, path: ['b', 'c', 'd'] });
    await drain();
    await decide(b, chain.id, 'approve');
    await drain();
    await decide(c, chain.id, 'reject', 'not in this region');
    await drain();
    const atA = (await chainOn(a, chain.id))!;
    expect(atA.state).toBe('stopped');
    expect(statuses(atA)).toEqual(['relayed', 'relayed', 'rejected', 'pending']);
    expect(atA.hops[2]).toMatchObject({ decidedBy: 'checker', error: 'rejected by checker: not in this region' });
    expect(await versionOn(b, 'chain-reject')).toBe(m.digest);
    expect(await versionOn(c, 'chain-reject')).toBeNull();
    expect(await versionOn(d, 'chain-reject')).toBeNull();
    expect(await chainOn(d, chain.id)).toBeNull();
    expect(await actions(c, 'b')).toContain('migration.hop.rejected');
  });

  it('stops at a hop whose version exists with another digest, and reports it to the origin', async () => {
    const m = migration('chain-conflict');
    const other = randomDigest();
    await c.p.app.services.modules.publish(c.lead, {
      moduleName: 'chain-conflict',
      version: '1.0.0',
      digest: other,
      draft: false,
    });
    const { chain } = await a.p.app.services.migrationChains.start(a.lead, { migration: m, path: ['b', 'c', 'd'] });
    await drain();
    await decide(b, chain.id, 'approve');
    await drain();
    await decide(c, chain.id, 'approve');
    await drain();
    const atA = (await chainOn(a, chain.id))!;
    expect(statuses(atA)).toEqual(['relayed', 'relayed', 'failed', 'pending']);
    expect(atA.hops[2]!.error).toContain(`already published with digest ${other}`);
    expect(await versionOn(c, 'chain-conflict')).toBe(other);
    expect(await chainOn(d, chain.id)).toBeNull();
    expect(statuses((await chainOn(b, chain.id))!)).toEqual(['relayed', 'failed', 'pending']);
  });

  it('refuses at b a next hop b does not know, and a hears it', async () => {
    const before = await counts(b);
    const { chain } = await a.p.app.services.migrationChains.start(a.lead, {
      migration: migration('chain-unknown'),
      path: ['b', 'd'], // d is a peer of c, not of b
    });
    await drain();
    const atA = (await chainOn(a, chain.id))!;
    expect(atA.state).toBe('stopped');
    expect(statuses(atA)).toEqual(['relayed', 'failed', 'pending']);
    expect(atA.hops[1]!.error).toContain('b has no federation peer d');
    // Nothing written at b but the refusal on its audit log.
    expect(await chainOn(b, chain.id)).toBeNull();
    expect(await counts(b)).toEqual(before);
    expect(await versionOn(b, 'chain-unknown')).toBeNull();
    expect(await actions(b, 'a')).toContain('peer.call.refused');
    expect(await actions(a, 'b')).toContain('migration.hop.relay_failed');
  });

  it('refuses bad input at the origin and writes nothing', async () => {
    const taken = randomDigest();
    await a.p.app.services.modules.publish(a.lead, {
      moduleName: 'chain-bad',
      version: '1.0.0',
      digest: taken,
      draft: false,
    });
    const before = await counts(a);
    const svc = a.p.app.services.migrationChains;
    const m = migration('chain-bad');
    const cases: Array<[Caller, string[], Migration, string]> = [
      [a.lead, ['c'], m, 'not_found'], // c is b's peer, not a's
      [a.lead, ['b', 'b'], m, 'invalid_input'],
      [a.lead, ['b', 'a'], m, 'invalid_input'],
      [a.checker, ['b'], m, 'forbidden'],
      [a.lead, ['b'], { ...m, digest: randomDigest() }, 'conflict'], // 1.0.0 exists here with `taken`
    ];
    for (const [caller, path, mig, code] of cases) {
      const err = await rejection(svc.start(caller, { migration: mig, path }));
      expect(err.code, path.join(',')).toBe(code);
    }
    const viaTool = await call(leadClient, 'start_migration_chain', {
      migration: { ...m, kind: 'drop_table' },
      path: ['b'],
    });
    expect(viaTool.isError).toBe(true);
    expect(await counts(a)).toEqual(before);
    expect(await versionOn(a, 'chain-bad')).toBe(taken);
  });
  // Last: it moves every clock a day on.
  it('stops the chain when a gate expires undecided, and the origin hears it', async () => {
    const { chain } = await a.p.app.services.migrationChains.start(a.lead, {
      migration: migration('chain-expiry'),
      path: ['b', 'c'],
    });
    await drain();
    for (const s of sites) s.p.clock.advance(APPROVAL_TTL_MS + 1000);
    expect(await b.p.app.services.approvals.expireDue(b.p.clock.now())).toBeGreaterThanOrEqual(1);
    await drain();
    const atA = (await chainOn(a, chain.id))!;
    expect(atA.state).toBe('stopped');
    expect(statuses(atA)).toEqual(['relayed', 'rejected', 'pending']);
    expect(atA.hops[1]!.error).toMatch(/expired undecided/);
    expect(await versionOn(b, 'chain-expiry')).toBeNull();
    expect(await chainOn(c, chain.id)).toBeNull();
  });
});
