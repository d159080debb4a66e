// The refusal record on a real store: one row per (peer, reason, hour) whose count keeps going, the oldest
// rows pruned once the cap is reached, and refusals that named no peer kept in a bucket of their own.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/db.js';
import { listRefusals, recordRefusal } from '../../src/store/refusals-repository.js';
import { insertTestPeer } from '../helpers/federation.js';
import { openTestStore, STORE_KINDS } from '../helpers/store.js';

const HOUR = 3_600_000;
const T0 = new Date('2026-12-05T10:00:00.000Z');
const at = (hours: number, ms = 0): Date => new Date(T0.getTime() + hours * HOUR + ms);

describe.each(STORE_KINDS)('refusals repository on %s', (kind) => {
  let store: Store;
  let peerId: string;

  beforeAll(async () => {
    store = await openTestStore(kind);
    peerId = await insertTestPeer(store.db, 'refused-peer');
  });
  afterAll(() => store.close());

  const refuse = (hours: number, ms = 0, reason = 'bad_signature', peer: string | null = peerId) =>
    recordRefusal(
      store.db,
      { peerId: peer, reason, request: 'heartbeat', message: `refused at ${hours}h+${ms}ms`, at: at(hours, ms) },
      3,
    );

  it('counts refusals of one peer, reason and hour in one row, keeping the last message', async () => {
    for (let i = 1; i <= 5; i += 1) expect(await refuse(0, i)).toBe(i);
    const { buckets, rows, total } = await listRefusals(store.db, { limit: 10 });
    expect({ rows, total }).toEqual({ rows: 1, total: 5 });
    expect(buckets[0]).toMatchObject({
      federationPeerId: peerId,
      reason: 'bad_signature',
      hour: T0,
      count: 5,
      firstAt: at(0, 1),
      lastAt: at(0, 5),
      lastMessage: 'refused at 0h+5ms',
    });
  });

  it('keeps refusals that named no peer in their own bucket', async () => {
    await refuse(0, 10, 'unknown_key', null);
    await refuse(0, 11, 'unknown_key', null);
    const { buckets } = await listRefusals(store.db, { peerId: null, limit: 10 });
    expect(buckets).toEqual([expect.objectContaining({ federationPeerId: null, reason: 'unknown_key', count: 2 })]);
  });

  it('stays at the cap, dropping the oldest buckets, while the newest one keeps counting', async () => {
    for (let hour = 1; hour <= 4; hour += 1) await refuse(hour);
    for (let i = 0; i < 20; i += 1) await refuse(4, 100 + i);
    const { buckets, rows, total } = await listRefusals(store.db, { limit: 10 });
    expect(rows).toBe(3);
    expect(buckets.map((b) => [b.hour.getTime(), b.count])).toEqual([
      [at(4).getTime(), 21],
      [at(3).getTime(), 1],
      [at(2).getTime(), 1],
    ]);
    expect(total).toBe(23);
  });
});
