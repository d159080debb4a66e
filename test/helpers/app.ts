// A real platform for tests: real store, real HTTP listener on a loopback port, a manual clock,
// and MCP clients that go through the SDK (in memory or over HTTP).
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { createApp, type App, type AppConfig, type AppOverrides } from '../../src/app.js';
import { connectHttpClient, type FlotillaClient } from '../../src/mcp/client.js';
import { ManualClock } from '../../src/scheduler/clock.js';
import type { Store, StoreKind } from '../../src/store/db.js';
import { openTestStore, silentLogger } from './store.js';

export interface TestPlatform {
  app: App;
  clock: ManualClock;
  store: Store;
  /** The bootstrap admin's token. */
  adminToken: string;
  /** An SDK client over an in-memory transport, authenticated as the token's operator. */
  memoryClient(token?: string): Promise<Client>;
  /** An SDK client over real HTTP to /mcp. */
  httpClient(token?: string): Promise<FlotillaClient>;
  /** Creates an operator and returns its token. */
  operator(name: string, role: 'viewer' | 'operator' | 'approver' | 'admin'): Promise<string>;
  close(): Promise<void>;
}

export async function startTestPlatform(
  kind: StoreKind,
  overrides: AppOverrides = {},
  config: Partial<AppConfig> = {},
): Promise<TestPlatform> {
  // A store the test opened itself (e.g. through a hop it can cut) stays the test's to close.
  const ownsStore = overrides.store === undefined;
  const store = overrides.store ?? (await openTestStore(kind, { migrate: false }));
  const clock = new ManualClock('2026-11-22T00:00:00.000Z');
  const app = await createApp(
    {
      host: '127.0.0.1',
      port: 0,
      name: 'test-platform',
      region: 'eu-west',
      tickMs: 5000,
      databaseUrl: undefined,
      allowedOrigins: [],
      ...config,
    },
    { store, clock, logger: silentLogger, startReconciler: false, ...overrides },
  );
  if (app.bootstrap === null) throw new Error('a fresh store must bootstrap an admin');
  const adminToken = app.bootstrap.token;
  const clients: Array<{ close(): Promise<void> }> = [];
  return {
    app,
    clock,
    store,
    adminToken,
    async memoryClient(token = adminToken) {
      const server = app.createMcpServer(() => app.services.operators.authenticate(token));
      const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
      await server.connect(serverSide);
      const client = new Client({ name: 'flotilla-test', version: '0.0.0' });
      await client.connect(clientSide);
      clients.push(client);
      return client;
    },
    async httpClient(token = adminToken) {
      const client = await connectHttpClient(app.http!.url, token);
      clients.push(client);
      return client;
    },
    async operator(name, role) {
      return (await app.services.operators.create('test', { name, role })).token;
    },
    async close() {
      await Promise.allSettled(clients.map((c) => c.close()));
      await app.close();
      if (ownsStore) await store.close();
    },
  };
}

/** Calls a tool through an SDK client and returns structured content, or the error JSON. */
export async function call(
  client: Client,
  name: string,
  args: Record<string, unknown> = {},
): Promise<{
  isError: boolean;
  data: Record<string, unknown>;
  error?: { code: string; message: string; hint?: string };
}> {
  const result = await client.callTool({ name, arguments: args });
  const content = result.content as Array<{ type: string; text: string }>;
  if (result.isError === true) {
    const parsed = JSON.parse(content[1]?.text ?? '{}') as { error?: { code: string; message: string; hint?: string } };
    return { isError: true, data: {}, ...(parsed.error === undefined ? {} : { error: parsed.error }) };
  }
  return { isError: false, data: result.structuredContent as Record<string, unknown> };
}
