// The per-peer audit log through AuditService on a real store: entries chain from the genesis hash with
// gap-free sequences (also under 50 concurrent appends and after a rolled-back one), pages read oldest
// first, the chain head follows the newest entry, and an untouched log verifies.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GENESIS_HASH } from '../../src/domain/audit.js';
import { FlotillaError } from '../../src/errors.js';
import { ManualClock } from '../../src/scheduler/clock.js';
import { AuditService } from '../../src/services/audit-service.js';
import type { Store } from '../../src/store/db.js';
import { insertTestPeer } from '../helpers/federation.js';
import { openTestStore, silentLogger, STORE_KINDS } from '../helpers/store.js';

const entry = (n: number) => ({ actor: 'parent_op', action: 'federation.request.sent', payload: { n } });

describe.each(STORE_KINDS)('AuditService on %s', (kind) => {
  let store: Store;
  let clock: ManualClock;
  let audit: AuditService;

  beforeAll(async () => {
    store = await openTestStore(kind);
    clock = new ManualClock('2026-11-22T00:00:00.000Z');
    audit = new AuditService({ db: store.db, clock, logger: silentLogger });
  });
  afterAll(() => store.close());

  it('chains entries from the genesis hash with sequences from 1, at the clock time', async () => {
    const peer = await insertTestPeer(store.db, 'chain');
    const first = await audit.append(peer, { actor: 'parent_op', action: 'federation.proposed', payload: {} });
    clock.advance(1500);
    const second = await audit.append(peer, { actor: 'child_handshake', action: 'federation.accepted', payload: {} });
    expect(first).toMatchObject({ sequence: 1, prevHash: GENESIS_HASH, at: new Date('2026-11-22T00:00:00.000Z') });
    expect(second).toMatchObject({ sequence: 2, prevHash: first.hash, actor: 'child_handshake' });
    expect(second.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(second.hash).not.toBe(first.hash);
  });

  it('reports an empty log as valid with the genesis head', async () => {
    const peer = await insertTestPeer(store.db, 'empty');
    expect(await audit.chainHead(peer)).toEqual({ sequence: 0, hash: GENESIS_HASH });
    expect(await audit.verify(peer)).toEqual({ valid: true, firstBadSequence: null, checked: 0 });
  });

  it('pages the log oldest first with a cursor', async () => {
    const peer = await insertTestPeer(store.db, 'paged');
    for (let n = 1; n <= 5; n++) await audit.append(peer, entry(n));
    const first = await audit.page(peer, { limit: 2 });
    const second = await audit.page(peer, { limit: 2, cursor: first.cursorFor(first.items.at(-1)!) });
    const last = await audit.page(peer, { limit: 2, cursor: second.cursorFor(second.items.at(-1)!) });
    expect([first, second, last].map((p) => p.items.map((e) => e.sequence))).toEqual([[1, 2], [3, 4], [5]]);
    expect([first.hasMore, second.hasMore, last.hasMore]).toEqual([true, true, false]);
    expect(last.items[0]!.payload).toEqual({ n: 5 });
  });

  it('refuses a cursor it did not make', async () => {
    const peer = await insertTestPeer(store.db, 'bad-cursor');
    await expect(audit.page(peer, { limit: 2, cursor: 'bm9wZQ' })).rejects.toMatchObject({ code: 'invalid_input' });
  });

  it('keeps the head on the newest entry, and hashAt on each one', async () => {
    const peer = await insertTestPeer(store.db, 'head');
    const entries = [];
    for (let n = 1; n <= 3; n++) entries.push(await audit.append(peer, entry(n)));
    expect(await audit.chainHead(peer)).toEqual({ sequence: 3, hash: entries[2]!.hash });
    expect(await audit.hashAt(peer, 2)).toBe(entries[1]!.hash);
    expect(await audit.hashAt(peer, 4)).toBeNull();
  });

  it('stays gap-free under 50 concurrent appends, and the chain verifies', async () => {
    const peer = await insertTestPeer(store.db, 'concurrent');
    const appended = await Promise.all(Array.from({ length: 50 }, (_, n) => audit.append(peer, entry(n))));
    expect(appended.map((e) => e.sequence).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(await audit.verify(peer)).toEqual({ valid: true, firstBadSequence: null, checked: 50 });
  });

  it('keeps two peers independent when their appends interleave', async () => {
    const [a, b] = [await insertTestPeer(store.db, 'inter-a'), await insertTestPeer(store.db, 'inter-b')];
    await Promise.all(Array.from({ length: 20 }, (_, n) => audit.append(n % 2 === 0 ? a : b, entry(n))));
    expect(await audit.chainHead(a)).toMatchObject({ sequence: 10 });
    expect(await audit.chainHead(b)).toMatchObject({ sequence: 10 });
    expect((await audit.verify(a)).valid && (await audit.verify(b)).valid).toBe(true);
  });

  it('leaves no gap after an append whose transaction rolled back', async () => {
    const peer = await insertTestPeer(store.db, 'rollback');
    await audit.append(peer, entry(1));
    await expect(
      store.db.transaction().execute(async (trx) => {
        await audit.append(peer, entry(2), trx);
        throw new Error('the change this entry described failed');
      }),
    ).rejects.toThrow(/failed/);
    expect(await audit.append(peer, entry(3))).toMatchObject({ sequence: 2 });
    expect((await audit.verify(peer)).valid).toBe(true);
  });

  it('refuses an entry for a peer that does not exist as not_found', async () => {
    const err = await audit.append('00000000-0000-4000-8000-000000000000', entry(1)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FlotillaError);
    expect(err).toMatchObject({ code: 'not_found' });
  });

  it('refuses a peer id that is not a uuid as invalid_input', async () => {
    await expect(audit.verify('peer-b')).rejects.toMatchObject({ code: 'invalid_input' });
  });
});
