// A child whose signed activate did not get through stays accepted and the reconciler activates it
// later. The failure here is real: the parent's clock runs ten minutes ahead, so the child's signature
// falls outside the ±5 minute window and is refused; once the clocks agree the retry succeeds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '../../src/domain/roles.js';
import { startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { STORE_KINDS } from '../helpers/store.js';

const admin: Caller = { operatorId: '00000000-0000-4000-8000-000000000000', name: 'test-admin', role: 'admin' };
const HEARTBEAT_MS = 15_000;

describe.each(STORE_KINDS)('activation retried by the reconciler on %s', (kind) => {
  let a: TestPlatform;
  let b: TestPlatform;

  beforeAll(async () => {
    a = await startTestPlatform(kind, {}, { name: 'parent-a' });
    b = await startTestPlatform(kind, {}, { name: 'child-b' });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it('keeps the peering accepted when activation fails, then activates it on a later tick', async () => {
    a.clock.advance(10 * 60_000);
    const proposed = await a.app.services.federation.propose(admin, { name: 'child-b', spawnMode: 'managed_child' });
    const refused = await b.app.services.federation
      .acceptFromParent(admin, { parentUrl: a.app.http!.url, acceptanceToken: proposed.acceptanceToken })
      .catch((err: { code: string; message: string }) => err);
    expect(refused).toMatchObject({ code: 'unauthorized' });
    const [onB] = (await b.app.services.federation.list({ limit: 10 })).items;
    expect(onB).toMatchObject({ status: 'accepted', spawnRole: 'child' });
    expect((await a.app.services.federation.resolve('child-b')).status).toBe('accepted');

    // Clocks agree again; the retry is due at once, then not again within the interval.
    b.clock.advance(10 * 60_000);
    expect(await b.app.services.federation.retryActivations(b.clock.now())).toBe(1);
    expect((await b.app.services.federation.resolve(onB!.id)).status).toBe('active');
    expect((await a.app.services.federation.resolve('child-b')).status).toBe('active');
    const { page } = await b.app.services.federation.auditLog(onB!.id, { limit: 50 });
    expect(page.items.map((e) => e.action)).toEqual(
      expect.arrayContaining(['federation.accepted', 'federation.activation_failed', 'federation.activated']),
    );
    // The managed child's grant to its parent lands with the late activation.
    const grants = await b.store.db.selectFrom('federation_grants').selectAll().execute();
    expect(grants).toHaveLength(1);
    expect(grants[0]).toMatchObject({ direction: 'issued', status: 'active' });
    b.clock.advance(HEARTBEAT_MS);
    expect(await b.app.services.federation.retryActivations(b.clock.now())).toBe(0);
  });
});
