// /mcp and /healthz over real loopback HTTP: bearer authentication (revocation takes effect on the next
// request), DNS-rebinding protection on Host and Origin, body parsing, routing, and the SDK's own
// Streamable HTTP client end to end.
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { ManualClock } from '../../src/scheduler/clock.js';
import type { Store, StoreKind } from '../../src/store/db.js';
import { startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { openTestStore, silentLogger, STORE_KINDS } from '../helpers/store.js';

const TOOLS_LIST = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} });

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

/** One raw HTTP request; the JSON body parsed when there is one. */
async function raw(
  url: string,
  opts: { method?: 'GET' | 'POST' | 'DELETE'; headers?: Record<string, string>; body?: string } = {},
): Promise<RawResponse> {
  const res = await request(url, {
    method: opts.method ?? 'GET',
    headers: opts.headers ?? {},
    // A response that never ends (an event stream held open) fails the test instead of hanging it.
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
    ...(opts.body === undefined ? {} : { body: opts.body }),
  });
  const text = await res.body.text();
  return {
    status: res.statusCode,
    headers: res.headers,
    body: text === '' ? undefined : (JSON.parse(text) as unknown),
  };
}

/** POSTs tools/list to /mcp as the given token with extra headers. */
function postMcp(baseUrl: string, token: string | null, headers: Record<string, string> = {}, body = TOOLS_LIST) {
  return raw(`${baseUrl}/mcp`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      ...headers,
    },
    body,
  });
}

/** A platform listening with --allowed-origins set, which startTestPlatform does not offer. */
async function startWithAllowedOrigins(
  kind: StoreKind,
  allowedOrigins: string[],
): Promise<{ app: App; token: string; close(): Promise<void> }> {
  const store: Store = await openTestStore(kind, { migrate: false });
  const app = await createApp(
    {
      host: '127.0.0.1',
      port: 0,
      name: 'origins',
      region: undefined,
      tickMs: 5000,
      databaseUrl: undefined,
      allowedOrigins,
    },
    { store, clock: new ManualClock(), logger: silentLogger, startReconciler: false },
  );
  return {
    app,
    token: app.bootstrap!.token,
    async close() {
      await app.close();
      await store.close();
    },
  };
}

describe.each(STORE_KINDS)('HTTP listener on %s', (kind) => {
  let platform: TestPlatform;
  let url: string;
  let port: number;

  beforeAll(async () => {
    platform = await startTestPlatform(kind);
    url = platform.app.http!.url;
    port = platform.app.http!.port;
  });
  afterAll(() => platform.close());

  it('answers /healthz with 200 JSON saying the store is up', async () => {
    const res = await raw(`${url}/healthz`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.body).toEqual({ status: 'ok', store: 'up' });
  });

  it('answers an unknown path with 404 JSON', async () => {
    const res = await raw(`${url}/nope`);
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ error: { code: 'not_found' } });
  });

  it('answers a tools/list POST with a token as JSON', async () => {
    const res = await postMcp(url, platform.adminToken);
    expect(res.status).toBe(200);
    expect((res.body as { result: { tools: unknown[] } }).result.tools.length).toBeGreaterThan(0);
  });

  describe('authentication', () => {
    it('refuses /mcp without Authorization with 401 and WWW-Authenticate', async () => {
      const res = await postMcp(url, null);
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer /);
      expect(res.body).toMatchObject({ error: { code: 'unauthorized' } });
    });

    it('refuses an unknown token with 401 invalid_token', async () => {
      const res = await postMcp(url, 'flo_not-a-real-token');
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toContain('error="invalid_token"');
    });

    it('refuses a revoked operator on the very next request', async () => {
      const token = await platform.operator('temp', 'viewer');
      expect((await postMcp(url, token)).status).toBe(200);
      const admin = await platform.httpClient();
      expect((await admin.callTool('revoke_operator', { name: 'temp' })).isError).toBe(false);
      const res = await postMcp(url, token);
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ error: { code: 'unauthorized', message: 'unknown or revoked token' } });
    });
  });

  describe('Host and Origin', () => {
    it('refuses a foreign Host with 403', async () => {
      const res = await postMcp(url, platform.adminToken, { host: 'evil.example.com' });
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ error: { code: 'forbidden', message: expect.stringContaining('Host') } });
    });

    it('refuses a foreign Host before asking for a token', async () => {
      expect((await postMcp(url, null, { host: 'evil.example.com' })).status).toBe(403);
    });

    it('refuses a foreign Origin with 403 saying how to allow it', async () => {
      const res = await postMcp(url, platform.adminToken, { origin: 'http://evil.example.com' });
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ error: { message: expect.stringContaining('--allowed-origins') } });
    });

    it('refuses Origin null', async () => {
      expect((await postMcp(url, platform.adminToken, { origin: 'null' })).status).toBe(403);
    });

    it('refuses an Origin that is not a URL', async () => {
      expect((await postMcp(url, platform.adminToken, { origin: 'not a url' })).status).toBe(403);
    });

    it.each(['http://localhost:1234', 'http://127.0.0.1:9', 'http://[::1]:8080'])(
      'accepts loopback Origin %s on a loopback listener',
      async (origin) => {
        expect((await postMcp(url, platform.adminToken, { origin })).status).toBe(200);
      },
    );

    it.each(['127.0.0.1:1', 'localhost:65000', 'localhost'])('accepts loopback Host %s on any port', async (host) => {
      expect((await postMcp(url, platform.adminToken, { host })).status).toBe(200);
    });

    it('accepts its own Host and port', async () => {
      expect((await postMcp(url, platform.adminToken, { host: `127.0.0.1:${port}` })).status).toBe(200);
    });

    it('refuses an Origin that is only allowed on another platform', async () => {
      const res = await postMcp(url, platform.adminToken, { origin: 'https://console.example.com' });
      expect(res.status).toBe(403);
    });
  });

  describe('with --allowed-origins', () => {
    let other: Awaited<ReturnType<typeof startWithAllowedOrigins>>;

    beforeAll(async () => {
      other = await startWithAllowedOrigins(kind, ['https://console.example.com']);
    });
    afterAll(() => other.close());

    it('accepts the listed Origin', async () => {
      const res = await postMcp(other.app.http!.url, other.token, { origin: 'https://console.example.com' });
      expect(res.status).toBe(200);
    });

    it('accepts the listed origin as Host', async () => {
      const res = await postMcp(other.app.http!.url, other.token, { host: 'console.example.com' });
      expect(res.status).toBe(200);
    });

    it('still refuses an Origin that is not listed', async () => {
      const res = await postMcp(other.app.http!.url, other.token, { origin: 'https://evil.example.com' });
      expect(res.status).toBe(403);
    });
  });

  describe('request bodies and methods', () => {
    it('answers a non-JSON body with 400 and a JSON-RPC parse error', async () => {
      const res = await postMcp(url, platform.adminToken, {}, '{"jsonrpc": "2.0", "method": ');
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32700 } });
    });

    it('answers GET /mcp with 405 at once instead of holding an event stream open', async () => {
      const res = await raw(`${url}/mcp`, {
        headers: { authorization: `Bearer ${platform.adminToken}`, accept: 'text/event-stream' },
      });
      expect(res.status).toBe(405);
      expect(res.headers.allow).toBe('POST');
    });

    it('answers DELETE /mcp with 405: there is no session to end', async () => {
      const res = await raw(`${url}/mcp`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${platform.adminToken}` },
      });
      expect(res.status).toBe(405);
    });
  });

  describe('SDK Streamable HTTP client', () => {
    it('lists the tools and calls get_platform_info as the token’s operator with its implied roles', async () => {
      const client = await platform.httpClient(await platform.operator('ana', 'approver'));
      const tools = await client.listTools();
      expect(tools.map((t) => t.name)).toContain('get_platform_info');
      const result = await client.callTool('get_platform_info', {});
      expect(result.isError).toBe(false);
      expect(result.structured).toMatchObject({
        name: 'test-platform',
        store_kind: kind,
        caller: { name: 'ana', role: 'approver', roles: ['viewer', 'operator', 'approver'] },
      });
      expect(JSON.parse(result.text)).toEqual(result.structured);
    });

    it('gets a tool error back as an error result, not a transport failure', async () => {
      const client = await platform.httpClient(await platform.operator('val', 'viewer'));
      const result = await client.callTool('create_operator', { name: 'x', role: 'viewer' });
      expect(result.isError).toBe(true);
      expect(result.text).toMatch(/^forbidden: create_operator needs the admin role/);
    });
  });
});
