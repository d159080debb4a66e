// peer_audit_log is write-once in the database itself: UPDATE, DELETE and TRUNCATE are refused even for
// the owner and under session_replication_role = replica (ENABLE ALWAYS), inserts are chained by the
// database, the hash reads the same on both stores, and rows tampered with behind the triggers' back
// are found by verify — or, when the whole tail was rehashed, by comparing a chain head seen earlier.
import { createHash } from 'node:crypto';
import { sql, type Transaction } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GENESIS_HASH } from '../../src/domain/audit.js';
import { ManualClock } from '../../src/scheduler/clock.js';
import { AuditService } from '../../src/services/audit-service.js';
import type { Database } from '../../src/store/database.js';
import type { Store } from '../../src/store/db.js';
import { appendEvent } from '../../src/store/events-repository.js';
import { insertTestPeer, rejection } from '../helpers/federation.js';
import { openTestStore, silentLogger, STORE_KINDS } from '../helpers/store.js';

const TRIGGERS = ['peer_audit_log_append_only', 'peer_audit_log_chain', 'peer_audit_log_no_truncate'];

describe.each(STORE_KINDS)('peer_audit_log on %s', (kind) => {
  let store: Store;
  let audit: AuditService;

  /** A peer with `n` entries. */
  async function peerWith(name: string, n: number): Promise<string> {
    const peer = await insertTestPeer(store.db, name);
    for (let i = 1; i <= n; i++) await audit.append(peer, { actor: 'op', action: 'test.step', payload: { i } });
    return peer;
  }

  /** Every row of the log, in a stable order. */
  const allRows = () =>
    store.db.selectFrom('peer_audit_log').selectAll().orderBy('federation_peer_id').orderBy('sequence').execute();

  /** Runs `change` with one trigger disabled, as only a table owner or superuser could. */
  async function behindTrigger(trigger: string, change: (trx: Transaction<Database>) => Promise<unknown>) {
    await store.db.transaction().execute(async (trx) => {
      await sql`ALTER TABLE peer_audit_log DISABLE TRIGGER ${sql.ref(trigger)}`.execute(trx);
      await change(trx);
      await sql`ALTER TABLE peer_audit_log ENABLE ALWAYS TRIGGER ${sql.ref(trigger)}`.execute(trx);
    });
  }

  beforeAll(async () => {
    store = await openTestStore(kind);
    audit = new AuditService({ db: store.db, clock: new ManualClock('2026-11-22T00:00:00Z'), logger: silentLogger });
  });
  afterAll(() => store.close());

  it('has its triggers enabled ALWAYS', async () => {
    const { rows } = await sql<{ tgname: string; tgenabled: string }>`
      SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'peer_audit_log'::regclass AND NOT tgisinternal
      ORDER BY tgname`.execute(store.db);
    expect(rows).toEqual(TRIGGERS.map((tgname) => ({ tgname, tgenabled: 'A' })));
  });

  describe('refuses changes by the owner', () => {
    let peer: string;
    beforeAll(async () => {
      peer = await peerWith('owner', 2);
    });

    it.each([
      ['UPDATE', (p: string) => sql`UPDATE peer_audit_log SET actor = 'mallory' WHERE federation_peer_id = ${p}`],
      ['DELETE', (p: string) => sql`DELETE FROM peer_audit_log WHERE federation_peer_id = ${p}`],
      ['TRUNCATE', () => sql`TRUNCATE peer_audit_log`],
    ])('refuses %s and leaves every row as it was', async (_what, statement) => {
      const before = await allRows();
      const err = await rejection(statement(peer).execute(store.db));
      expect(err.code).toBe('42501');
      expect(err.message).toContain('peer_audit_log is append-only');
      expect(await allRows()).toEqual(before);
      expect(before.filter((r) => r.federation_peer_id === peer)).toHaveLength(2);
    });

    it.each([
      ['UPDATE', (p: string) => sql`UPDATE peer_audit_log SET actor = 'mallory' WHERE federation_peer_id = ${p}`],
      ['DELETE', (p: string) => sql`DELETE FROM peer_audit_log WHERE federation_peer_id = ${p}`],
      ['TRUNCATE', () => sql`TRUNCATE peer_audit_log`],
    ])('refuses %s under session_replication_role = replica, changing nothing', async (_what, statement) => {
      const before = await allRows();
      const err = await rejection(
        store.db.transaction().execute(async (trx) => {
          await sql`SET LOCAL session_replication_role = replica`.execute(trx);
          await statement(peer).execute(trx);
        }),
      );
      expect(err.code).toBe('42501');
      expect(await allRows()).toEqual(before);
    });

    it('(control) lets a trigger not enabled ALWAYS be skipped under replica', async () => {
      const id = await appendEvent(store.db, { kind: 'test.control', actor: 'op', payload: {} }, new Date());
      const updated = await rejection(
        store.db.transaction().execute(async (trx) => {
          await sql`SET LOCAL session_replication_role = replica`.execute(trx);
          const r = await sql`UPDATE events SET actor = 'mallory' WHERE id = ${id}`.execute(trx);
          throw new Error(`rolled back after updating ${r.numAffectedRows} row`);
        }),
      );
      expect(updated.message).toBe('rolled back after updating 1 row');
    });

    it('refuses to truncate the peers table with the log by CASCADE, changing nothing', async () => {
      const before = await allRows();
      const err = await rejection(sql`TRUNCATE federation_peers CASCADE`.execute(store.db));
      expect(err.code).toBe('42501');
      expect(await allRows()).toEqual(before);
    });

    it('refuses to delete a peer that has audit history', async () => {
      const err = await rejection(sql`DELETE FROM federation_peers WHERE id = ${peer}`.execute(store.db));
      expect(err.code).toBe('23503');
    });

    it('still holds both entries unchanged and valid', async () => {
      expect(await audit.verify(peer)).toEqual({ valid: true, firstBadSequence: null, checked: 2 });
    });
  });

  it('chains a raw insert itself, ignoring the sequence and hashes it was given', async () => {
    const peer = await peerWith('raw', 1);
    await sql`INSERT INTO peer_audit_log (federation_peer_id, sequence, at, actor, action, prev_hash, hash)
              VALUES (${peer}, 99, now(), 'op', 'raw', ${'a'.repeat(64)}, ${'b'.repeat(64)})`.execute(store.db);
    expect(await audit.chainHead(peer)).toMatchObject({ sequence: 2 });
    expect((await audit.verify(peer)).valid).toBe(true);
  });

  it('hashes sha256(prev_hash || canonical JSON array of the entry), the same on both stores', async () => {
    const peer = '11111111-2222-4333-8444-555555555555';
    await sql`INSERT INTO federation_peers (id, name, status, spawn_role, spawn_mode, created_by, created_at, updated_at)
              VALUES (${peer}, 'golden', 'active', 'child', 'managed_child', 'test', now(), now())`.execute(store.db);
    const payload = { b: 1, aa: [1.5, 'é\n'], a: null };
    const e = await audit.append(peer, { actor: 'op', action: 'x', payload });
    const canonical = `[1, "${peer}", 1, "2026-11-22T00:00:00.000000Z", "op", "x", {"a": null, "b": 1, "aa": [1.5, "é\\n"]}]`;
    expect(e.hash).toBe(
      createHash('sha256')
        .update(GENESIS_HASH + canonical, 'utf8')
        .digest('hex'),
    );
  });

  describe('tampering behind the triggers', () => {
    it('finds an entry whose payload was changed', async () => {
      const peer = await peerWith('edited', 5);
      await behindTrigger('peer_audit_log_append_only', (trx) =>
        sql`UPDATE peer_audit_log SET payload = '{"i": 99}' WHERE federation_peer_id = ${peer} AND sequence = 3`.execute(
          trx,
        ),
      );
      expect(await audit.verify(peer)).toEqual({ valid: false, firstBadSequence: 3, checked: 5 });
    });

    it('finds a deleted entry by its missing sequence', async () => {
      const peer = await peerWith('deleted', 4);
      await behindTrigger('peer_audit_log_append_only', (trx) =>
        sql`DELETE FROM peer_audit_log WHERE federation_peer_id = ${peer} AND sequence = 2`.execute(trx),
      );
      expect(await audit.verify(peer)).toEqual({ valid: false, firstBadSequence: 2, checked: 3 });
    });

    it('finds a crafted entry inserted with a wrong hash', async () => {
      const peer = await peerWith('crafted', 3);
      const head = await audit.chainHead(peer);
      await behindTrigger('peer_audit_log_chain', (trx) =>
        sql`INSERT INTO peer_audit_log (federation_peer_id, sequence, at, actor, action, prev_hash, hash)
            VALUES (${peer}, 4, now(), 'mallory', 'forged', ${head.hash}, ${'ab'.repeat(32)})`.execute(trx),
      );
      expect(await audit.verify(peer)).toEqual({ valid: false, firstBadSequence: 4, checked: 4 });
    });

    it('leaves a fully rehashed tail to the chain head a peer recorded earlier', async () => {
      const peer = await peerWith('rehashed', 3);
      const seenByPeer = await audit.chainHead(peer);
      await behindTrigger('peer_audit_log_append_only', async (trx) => {
        for (const seq of [2, 3]) {
          await sql`
            UPDATE peer_audit_log l SET
              payload = CASE WHEN l.sequence = 2 THEN '{"i": 99}'::jsonb ELSE l.payload END,
              prev_hash = p.hash,
              hash = flotilla_audit_hash(p.hash, l.federation_peer_id, l.sequence, l.at, l.actor, l.action,
                       CASE WHEN l.sequence = 2 THEN '{"i": 99}'::jsonb ELSE l.payload END)
            FROM peer_audit_log p
            WHERE l.federation_peer_id = ${peer} AND l.sequence = ${seq}
              AND p.federation_peer_id = l.federation_peer_id AND p.sequence = l.sequence - 1`.execute(trx);
        }
      });
      expect((await audit.verify(peer)).valid).toBe(true);
      expect(await audit.hashAt(peer, seenByPeer.sequence)).not.toBe(seenByPeer.hash);
    });
  });
});
