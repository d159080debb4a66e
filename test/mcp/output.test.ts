// Tool output on the wire: structuredContent is exactly the published outputSchema (an SDK client that
// listed the tools validates it and would throw), the text content mirrors it, and error results
// carry no structuredContent that client could choke on.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { STORE_KINDS } from '../helpers/store.js';

const digest = (c: string): string => `sha256:${c.repeat(64)}`;
const validator = new AjvJsonSchemaValidator();

describe.each(STORE_KINDS)('tool output on %s', (kind) => {
  let platform: TestPlatform;
  let admin: Client;
  let listed: Map<string, Tool>;

  beforeAll(async () => {
    platform = await startTestPlatform(kind);
    admin = await platform.memoryClient();
    // Listing makes the SDK client validate every later structuredContent against the outputSchema.
    listed = new Map((await admin.listTools()).tools.map((t) => [t.name, t]));
  });
  afterAll(() => platform.close());

  const callOk = async (name: string, args: Record<string, unknown> = {}): Promise<Record<string, unknown>> => {
    const result = (await admin.callTool({ name, arguments: args })) as CallToolResult;
    expect(result.isError ?? false, JSON.stringify(result.content)).toBe(false);
    const structured = result.structuredContent!;
    const check = validator.getValidator(listed.get(name)!.outputSchema as never)(structured);
    expect(check.valid, check.errorMessage).toBe(true);
    expect(result.content).toHaveLength(1);
    const [text] = result.content as Array<{ type: string; text: string }>;
    expect(text?.type).toBe('text');
    expect(JSON.parse(text!.text)).toEqual(structured);
    return structured;
  };

  it('answers every module, operator and platform tool with structuredContent that matches its outputSchema', async () => {
    await callOk('get_platform_info');
    const created = await callOk('create_operator', { name: 'olga', role: 'operator' });
    expect(created.token).toEqual(expect.any(String));
    await callOk('list_operators', { include_revoked: true });
    const published = await callOk('publish_module_version', {
      module_name: 'nginx',
      version: '1.26.0',
      digest: digest('a'),
    });
    await callOk('promote_module_version', {
      version_id: (published.version as { id: string }).id,
      lifecycle_state: 'blessed',
    });
    await callOk('list_modules');
    await callOk('list_module_versions', { module_name: 'nginx', limit: 1 });
    await callOk('recent_events', { kind_prefix: 'module.' });
    await callOk('revoke_operator', { name: 'olga' });
  });

  it('answers an empty list with an empty array and next_cursor null', async () => {
    const res = await callOk('recent_events', { kind_prefix: 'nothing.matches.' });
    expect(res).toEqual({ events: [], next_cursor: null });
  });

  it.each([
    ['a refused input', 'publish_module_version', { module_name: 'nginx' }],
    [
      'a missing version',
      'promote_module_version',
      { module_name: 'nginx', version_id: '9.9.9', lifecycle_state: 'live' },
    ],
    ['an unknown tool', 'no_such_tool', {}],
  ])(
    'returns an error result for %s to a client that listed the tools, without throwing',
    async (_what, name, args) => {
      const result = (await admin.callTool({ name, arguments: args })) as CallToolResult;
      expect(result.isError).toBe(true);
      expect(result.structuredContent).toBeUndefined();
      const [line, json] = result.content as Array<{ type: string; text: string }>;
      const { error } = JSON.parse(json!.text) as { error: { code: string; message: string } };
      expect(line!.text).toBe(
        `${error.code}: ${error.message}${'hint' in error ? ` — next: ${String(error.hint)}` : ''}`,
      );
    },
  );

  it('returns a forbidden error result to a lower-role client that listed the tools, without throwing', async () => {
    const viewer = await platform.memoryClient(await platform.operator('vic', 'viewer'));
    await viewer.listTools();
    const result = (await viewer.callTool({
      name: 'create_operator',
      arguments: { name: 'x', role: 'viewer' },
    })) as CallToolResult;
    expect(result.isError).toBe(true);
    expect((result.content as Array<{ text: string }>)[0]?.text).toMatch(/^forbidden: /);
  });
});
