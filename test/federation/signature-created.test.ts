// A signed call whose `created` time no clock comparison can judge (beyond what a Date holds, or
// negative) is refused over real HTTP, and so is its replay after the nonce was forgotten: the time
// check fails closed instead of letting the call through.
import { request } from 'undici';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NONCE_RETENTION_MS } from '../../src/federation/request-auth.js';
import type { RequestSigner } from '../../src/federation/signing.js';
import { appendEvent } from '../../src/store/events-repository.js';
import { startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { federatePair, signWithCreated } from '../helpers/federation.js';
import { STORE_KINDS } from '../helpers/store.js';

describe.each(STORE_KINDS)('signature created times over HTTP on %s', (kind) => {
  let a: TestPlatform;
  let b: TestPlatform;
  let bSigner: RequestSigner;

  const applied = async (key: string): Promise<number> => {
    const rows = await a.store.db.selectFrom('events').select('payload').where('kind', '=', 'test.applied').execute();
    return rows.filter((r) => (r.payload as { key?: unknown }).key === key).length;
  };

  /** B's signed call to A's test.apply with `created` exactly as given. */
  const send = async (key: string, created: string, nonce?: string) => {
    const url = new URL('/federation/v1/calls/test.apply', a.app.http!.url);
    const body = JSON.stringify({ to: a.app.platformId, on_behalf_of: null, idempotency_key: null, args: { key } });
    const headers = signWithCreated(
      { method: 'POST', authority: url.host, target: url.pathname, body },
      bSigner,
      created,
      nonce,
    );
    const res = await request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
    });
    return { status: res.statusCode, json: (await res.body.json()) as unknown };
  };

  beforeAll(async () => {
    a = await startTestPlatform(kind, {}, { name: 'platform-a' });
    b = await startTestPlatform(kind, {}, { name: 'platform-b' });
    a.app.services.federation.calls.register({
      name: 'test.apply',
      capability: null,
      residencyKinds: [],
      args: z.strictObject({ key: z.string() }),
      handle: async ({ db, args, now }) => {
        await appendEvent(db, { kind: 'test.applied', actor: 'test', payload: { key: args.key } }, now);
        return { applied: args.key };
      },
    });
    await federatePair(a, b, { name: 'platform-b' });
    bSigner = await b.app.services.federation.protocol.signer();
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it('(control) applies a call signed now', async () => {
    const res = await send('control', String(Math.floor(a.clock.now().getTime() / 1000)));
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    expect(await applied('control')).toBe(1);
  });

  it.each([
    ['beyond what a Date holds', '999999999999999'],
    ['negative, beyond what a Date holds', '-999999999999999'],
  ])('refuses a call whose created is %s, and its replay once the nonce is forgotten', async (_what, created) => {
    const key = `created-${created}`;
    const nonce = `replay-${created.replace('-', 'm')}`.padEnd(16, 'x');
    const first = await send(key, created, nonce);
    expect(first.status).toBe(401);
    expect(first.json).toMatchObject({ error: { code: 'unauthorized', details: { reason: 'malformed_signature' } } });

    // Past the nonce retention (11 minutes): the nonce table no longer remembers it, if it ever did.
    a.clock.advance(NONCE_RETENTION_MS + 2 * 60_000);
    await a.app.reconciler.tickOnce();
    const replay = await send(key, created, nonce);
    expect(replay.status).toBe(401);
    expect(await applied(key)).toBe(0);
  });
});
