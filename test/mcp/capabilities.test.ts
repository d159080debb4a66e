// What the server declares on initialize and answers beside tools: resources (the platform, modules by
// template), prompts, and logging/setLevel.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROMPTS } from '../../src/mcp/prompts.js';
import { SERVER_NAME } from '../../src/mcp/server.js';
import { call, startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { STORE_KINDS } from '../helpers/store.js';

describe.each(STORE_KINDS)('server capabilities on %s', (kind) => {
  let platform: TestPlatform;
  let client: Client;

  beforeAll(async () => {
    platform = await startTestPlatform(kind);
    client = await platform.memoryClient(await platform.operator('reader', 'viewer'));
  });
  afterAll(() => platform.close());

  const readJson = async (uri: string): Promise<Record<string, unknown>> => {
    const { contents } = await client.readResource({ uri });
    expect(contents).toHaveLength(1);
    expect(contents[0]).toMatchObject({ uri, mimeType: 'application/json' });
    return JSON.parse((contents[0] as { text: string }).text) as Record<string, unknown>;
  };

  it('declares logging, tools, resources and prompts on initialize', () => {
    const caps = client.getServerCapabilities();
    expect(caps).toMatchObject({ logging: {}, tools: {}, resources: {}, prompts: {} });
    expect(client.getServerVersion()?.name).toBe(SERVER_NAME);
    expect(client.getInstructions()).toContain('role');
  });

  it('lists flotilla://platform as a JSON resource', async () => {
    const { resources } = await client.listResources();
    expect(resources).toContainEqual(
      expect.objectContaining({ uri: 'flotilla://platform', mimeType: 'application/json' }),
    );
  });

  it('reads flotilla://platform as JSON naming the caller', async () => {
    const body = await readJson('flotilla://platform');
    expect(body).toMatchObject({ name: 'test-platform', storeKind: kind, caller: { name: 'reader', role: 'viewer' } });
  });

  it('lists the flotilla://modules/{module_name} template', async () => {
    const { resourceTemplates } = await client.listResourceTemplates();
    expect(resourceTemplates).toContainEqual(
      expect.objectContaining({ uriTemplate: 'flotilla://modules/{module_name}', mimeType: 'application/json' }),
    );
  });

  it('reads a module through the template as JSON with its versions', async () => {
    const admin = await platform.memoryClient();
    await call(admin, 'publish_module_version', {
      module_name: 'redis',
      version: '7.2.4',
      digest: `sha256:${'e'.repeat(64)}`,
    });
    const body = await readJson('flotilla://modules/redis');
    expect(body).toMatchObject({ module: { name: 'redis' }, versions: [{ version: '7.2.4' }] });
  });

  it('refuses an unknown resource with a JSON-RPC error saying not_found', async () => {
    await expect(client.readResource({ uri: 'flotilla://modules/no-such-module' })).rejects.toThrow(/not_found/);
    await expect(client.readResource({ uri: 'flotilla://nothing' })).rejects.toThrow(/not_found/);
  });

  it('lists the published prompts, each with a description and described arguments', async () => {
    const { prompts } = await client.listPrompts();
    expect(prompts.map((p) => p.name)).toEqual(PROMPTS.map((p) => p.name));
    for (const prompt of prompts) {
      expect(prompt.description?.trim()).not.toBe('');
      for (const arg of prompt.arguments ?? []) expect(arg.description?.trim()).not.toBe('');
    }
  });

  it('refuses an unknown prompt with a JSON-RPC error saying not_found', async () => {
    await expect(client.getPrompt({ name: 'no_such_prompt' })).rejects.toThrow(/not_found/);
  });

  it('accepts logging/setLevel', async () => {
    await expect(client.setLoggingLevel('warning')).resolves.toEqual({});
  });
});
