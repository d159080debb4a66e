// The REST adapter over real loopback HTTP: /api/v1/federation/peers/:id/{audit_log,data_residency}
// run the same tools, role checks and validation as MCP for a Bearer-authenticated operator. Refusals
// (no or bad token, too small a role, wrong method, unknown path, bad query or body) answer JSON errors
// with the right status and change nothing. An endpoint table of one entry serves a new tool.
import { request } from 'undici';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ResidencyViolationError } from '../../src/errors.js';
import { API_ERROR_STATUS, apiRoutes, matchPath, type ApiEndpoint } from '../../src/http/api-routes.js';
import { startHttpListener, type HttpListener } from '../../src/http/server.js';
import { defineTool } from '../../src/mcp/define-tool.js';
import { startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { insertTestPeer } from '../helpers/federation.js';
import { silentLogger, STORE_KINDS } from '../helpers/store.js';

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: { error?: { code: string; message: string; hint?: string } } & Record<string, unknown>;
}

async function raw(
  url: string,
  opts: {
    method?: 'GET' | 'PUT' | 'POST' | 'DELETE';
    token?: string;
    headers?: Record<string, string>;
    body?: string;
  } = {},
): Promise<RawResponse> {
  const res = await request(url, {
    method: opts.method ?? 'GET',
    headers: {
      ...(opts.token === undefined ? {} : { authorization: `Bearer ${opts.token}` }),
      ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...opts.headers,
    },
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
    ...(opts.body === undefined ? {} : { body: opts.body }),
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body: JSON.parse(text) as RawResponse['body'] };
}

const POLICY = { resource_kinds: ['secrets', 'credentials'], constraint: 'must_not_leave_region', region: 'eu-west-1' };

describe.each(STORE_KINDS)('REST API adapter on %s', (kind) => {
  let p: TestPlatform;
  let peerId: string;
  let viewerToken: string;

  const base = (): string => `${p.app.http!.url}/api/v1/federation/peers`;
  const residencyUrl = (ref = peerId): string => `${base()}/${encodeURIComponent(ref)}/data_residency`;
  const auditLength = async (): Promise<number> =>
    (await p.app.services.federation.auditLog(peerId, { limit: 500 })).page.items.length;
  const policies = () => p.store.db.selectFrom('data_residency_policies').selectAll().execute();

  beforeAll(async () => {
    p = await startTestPlatform(kind, {}, { name: 'rest-a', region: 'eu-west-1' });
    peerId = await insertTestPeer(p.store.db, 'peer-x');
    viewerToken = await p.operator('vic', 'viewer');
  });
  afterAll(async () => {
    await p?.close();
  });

  it('PUT sets the policy with the tutorial body and answers the tool output; GET reads it', async () => {
    const put = await raw(residencyUrl(), {
      method: 'PUT',
      token: p.adminToken,
      body: JSON.stringify({ policy: POLICY }),
    });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect(put.headers['cache-control']).toBe('no-store');
    expect(put.body).toMatchObject({
      federation_peer_id: peerId,
      policy: POLICY,
      previous_policy: null,
      set_by: 'admin',
    });

    const get = await raw(residencyUrl('peer-x'), { token: viewerToken });
    expect(get.status).toBe(200);
    expect(get.body).toMatchObject({
      federation_peer_id: peerId,
      federation_peer_name: 'peer-x',
      policy: POLICY,
      peer_region: null,
      complies: false,
    });
  });

  it('GET audit_log pages the peer log with limit and cursor', async () => {
    await raw(residencyUrl(), {
      method: 'PUT',
      token: p.adminToken,
      body: JSON.stringify({ policy: { ...POLICY, region: 'eu' } }),
    });
    const first = await raw(`${base()}/${peerId}/audit_log?limit=1`, { token: viewerToken });
    expect(first.status).toBe(200);
    expect(first.body.entries).toEqual([expect.objectContaining({ sequence: 1, action: 'data_residency.set' })]);
    const cursor = first.body.next_cursor as string;
    expect(cursor).toEqual(expect.any(String));
    const next = await raw(`${base()}/peer-x/audit_log?cursor=${encodeURIComponent(cursor)}&limit=50`, {
      token: viewerToken,
    });
    expect(next.body).toMatchObject({
      federation_peer_id: peerId,
      entries: [expect.objectContaining({ sequence: 2, action: 'data_residency.set' })],
      next_cursor: null,
    });
  });

  it('refuses a missing or unknown token with 401 and WWW-Authenticate: Bearer', async () => {
    const none = await raw(residencyUrl());
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/^Bearer /);
    expect(none.body.error).toMatchObject({ code: 'unauthorized' });
    const bad = await raw(residencyUrl(), {
      method: 'PUT',
      token: 'flo_not-a-token',
      body: JSON.stringify({ policy: null }),
    });
    expect(bad.status).toBe(401);
    expect(bad.headers['www-authenticate']).toMatch(/^Bearer .*invalid_token/);
    expect(await policies()).toHaveLength(1);
  });

  it('refuses a viewer setting the policy with 403 naming the role, changing nothing', async () => {
    const before = await auditLength();
    const res = await raw(residencyUrl(), {
      method: 'PUT',
      token: viewerToken,
      body: JSON.stringify({ policy: null }),
    });
    expect(res.status).toBe(403);
    expect(res.body.error).toMatchObject({ code: 'forbidden', message: expect.stringContaining('admin') });
    expect(await policies()).toHaveLength(1);
    expect(await auditLength()).toBe(before);
  });

  it('refuses bad bodies with 400, 413 or 415 and the field named, changing nothing', async () => {
    const before = { audit: await auditLength(), policies: await policies() };
    const put = (body: string, headers: Record<string, string> = {}) =>
      raw(residencyUrl(), { method: 'PUT', token: p.adminToken, body, headers });
    const cases: Array<[string, Record<string, string>, number, RegExp]> = [
      ['{"policy":', {}, 400, /not valid JSON/],
      ['[1,2]', {}, 400, /JSON object/],
      [JSON.stringify({ policy: POLICY, polcy: 1 }), {}, 400, /unknown field "polcy"/],
      [JSON.stringify({ policy: { ...POLICY, resource_kinds: ['passwords'] } }), {}, 400, /policy\.resource_kinds/],
      [JSON.stringify({ policy: POLICY, federation_peer_id: 'other' }), {}, 400, /comes from the path/],
      [JSON.stringify({}), {}, 400, /policy/],
      [JSON.stringify({ policy: POLICY }), { 'content-type': 'text/plain' }, 415, /content-type/],
      [JSON.stringify({ policy: POLICY, pad: 'x'.repeat(70_000) }), {}, 413, /exceeds/],
    ];
    for (const [body, headers, status, message] of cases) {
      const res = await put(body, headers);
      expect(res.status, body.slice(0, 60)).toBe(status);
      expect(res.body.error?.code).toBe('invalid_input');
      expect(res.body.error?.message).toMatch(message);
    }
    expect(await auditLength()).toBe(before.audit);
    expect(await policies()).toEqual(before.policies);
  });

  it('refuses bad query parameters with 400', async () => {
    const unknown = await raw(`${base()}/${peerId}/audit_log?page=2`, { token: viewerToken });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error?.message).toMatch(/unknown query parameter "page"/);
    const notNumber = await raw(`${base()}/${peerId}/audit_log?limit=ten`, { token: viewerToken });
    expect(notNumber.status).toBe(400);
    expect(notNumber.body.error?.message).toMatch(/^limit:/);
    const twice = await raw(`${base()}/${peerId}/audit_log?limit=1&limit=2`, { token: viewerToken });
    expect(twice.status).toBe(400);
  });

  it('answers 405 with Allow for a wrong method, 404 for unknown paths and peers', async () => {
    const del = await raw(residencyUrl(), { method: 'DELETE', token: p.adminToken });
    expect(del.status).toBe(405);
    expect(del.headers.allow).toBe('GET, PUT');
    expect(await policies()).toHaveLength(1);
    const post = await raw(`${base()}/${peerId}/audit_log`, { method: 'POST', token: p.adminToken, body: '{}' });
    expect(post.status).toBe(405);

    const path = await raw(`${base()}/${peerId}/routes`, { token: p.adminToken });
    expect(path.status).toBe(404);
    expect(path.body.error).toMatchObject({ code: 'not_found' });
    const peer = await raw(residencyUrl('nobody'), { token: p.adminToken });
    expect(peer.status).toBe(404);
    expect(peer.body.error).toMatchObject({ code: 'not_found', message: 'no federation peer nobody' });
  });
});

describe('REST endpoint table', () => {
  let listener: HttpListener;
  const residencyRefusal = defineTool({
    name: 'test_transfer',
    title: 'Test transfer',
    description: 'Refuses with data_residency_violation unless told to succeed.',
    role: 'viewer',
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    input: { child_name: z.string(), ok: z.boolean() },
    output: { child_name: z.string() },
    handler: async (_ctx, input) => {
      if (input.ok) return { child_name: input.child_name };
      throw new ResidencyViolationError('would leave the region', { hint: 'keep it in-region' });
    },
  });
  const endpoints: ApiEndpoint[] = [
    { method: 'POST', path: '/api/v1/federation/children/spawn', tool: 'test_transfer', body: true },
  ];

  beforeAll(async () => {
    const services = {
      operators: { authenticate: async () => ({ operatorId: 'x', name: 'tess', role: 'viewer' as const }) },
    } as never;
    listener = await startHttpListener({
      host: '127.0.0.1',
      port: 0,
      logger: silentLogger,
      routes: [apiRoutes({ tools: [residencyRefusal], services, logger: silentLogger, endpoints })],
    });
  });
  afterAll(async () => {
    await listener?.close();
  });

  it('serves a new tool with one entry, and answers data_residency_violation as 403', async () => {
    const url = `${listener.url}/api/v1/federation/children/spawn`;
    const ok = await raw(url, { method: 'POST', token: 't', body: JSON.stringify({ child_name: 'c1', ok: true }) });
    expect(ok).toMatchObject({ status: 200, body: { child_name: 'c1' } });
    const refused = await raw(url, {
      method: 'POST',
      token: 't',
      body: JSON.stringify({ child_name: 'c1', ok: false }),
    });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toEqual({
      code: 'data_residency_violation',
      message: 'would leave the region',
      hint: 'keep it in-region',
    });
  });

  it('maps every error code to a status and matches only whole segments', () => {
    expect(API_ERROR_STATUS.data_residency_violation).toBe(403);
    expect(matchPath('/a/:id/b', '/a/x%20y/b')).toEqual({ id: 'x y' });
    expect(matchPath('/a/:id/b', '/a//b')).toBeNull();
    expect(matchPath('/a/:id/b', '/a/x/b/c')).toBeNull();
  });

  it('refuses at start an endpoint naming a tool the catalog lacks', () => {
    expect(() =>
      apiRoutes({
        tools: [],
        services: {} as never,
        logger: silentLogger,
        endpoints: [{ method: 'GET', path: '/api/v1/x', tool: 'nope' }],
      }),
    ).toThrow(/names no tool nope/);
  });
});
