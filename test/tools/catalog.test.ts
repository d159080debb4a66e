// The tool catalog: one file per tool named after it, and every tool published the way an assistant
// needs it (strict input with described fields, an output schema, explicit annotations, its role).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROLES } from '../../src/domain/roles.js';
import type { AnyTool } from '../../src/mcp/define-tool.js';
import { TOOLS } from '../../tools/index.js';
import { startTestPlatform, type TestPlatform } from '../helpers/app.js';

const TOOLS_DIR = fileURLToPath(new URL('../../tools/', import.meta.url));
const ANNOTATIONS = ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'] as const;

/** First words a tool name may start with; a new verb is added here on purpose, not by accident. */
const VERBS = new Set([
  'abort',
  'accept',
  'add',
  'apply',
  'approve',
  'archive',
  'assign',
  'cancel',
  'check',
  'compare',
  'control',
  'create',
  'decide',
  'delete',
  'deny',
  'deploy',
  'describe',
  'diff',
  'disable',
  'drain',
  'enable',
  'enroll',
  'execute',
  'get',
  'grant',
  'invite',
  'issue',
  'list',
  'override',
  'pause',
  'plan',
  'promote',
  'propose',
  'publish',
  'register',
  'reject',
  'remove',
  'request',
  'resume',
  'retry',
  'revoke',
  'roll',
  'rollback',
  'rotate',
  'run',
  'search',
  'set',
  'spawn',
  'start',
  'stop',
  'sync',
  'terminate',
  'unassign',
  'update',
  'verify',
  'watch',
]);
/** Names the seed documents give that are not verb-first; kept so tutorials can be followed verbatim. */
const SEED_NAMES = new Set(['recent_events', 'drift_report', 'agent_introspect']);

const kebab = (toolName: string): string => toolName.replaceAll('_', '-');
const isListTool = (tool: AnyTool): boolean => tool.name.startsWith('list_') || tool.name === 'recent_events';

const toolFiles = fs
  .readdirSync(TOOLS_DIR, { withFileTypes: true })
  .filter((e) => e.isFile() && e.name.endsWith('.ts') && e.name !== 'index.ts')
  .map((e) => e.name)
  .sort();

describe('tool catalog', () => {
  let platform: TestPlatform;
  let published: Map<string, Tool>;

  beforeAll(async () => {
    platform = await startTestPlatform('pglite');
    const client = await platform.memoryClient();
    published = new Map((await client.listTools()).tools.map((t) => [t.name, t]));
  });
  afterAll(() => platform.close());

  it('has one file per tool, and every tool file is in the catalog', () => {
    expect(toolFiles.map((f) => f.replace(/\.ts$/, ''))).toEqual(TOOLS.map((t) => kebab(t.name)).sort());
  });

  it.each(toolFiles)('%s default-exports the catalog tool its name says', async (file) => {
    const mod = (await import(pathToFileURL(path.join(TOOLS_DIR, file)).href)) as { default?: AnyTool };
    expect(mod.default).toBeDefined();
    expect(TOOLS).toContain(mod.default);
    expect(`${kebab(mod.default!.name)}.ts`).toBe(file);
  });

  it('has unique names', () => {
    const names = TOOLS.map((t) => t.name);
    expect(new Set(names).size).toBe(names.length);
  });

  it('publishes exactly the catalog on tools/list, in order', () => {
    expect([...published.keys()]).toEqual(TOOLS.map((t) => t.name));
  });

  describe.each(TOOLS.map((t) => [t.name, t] as const))('%s', (name, tool) => {
    const listed = (): Tool => published.get(name)!;

    it('is snake_case and verb first', () => {
      expect(name).toMatch(/^[a-z][a-z0-9]*(_[a-z0-9]+)+$/);
      if (!SEED_NAMES.has(name)) expect(VERBS).toContain(name.split('_')[0]);
    });

    it('has a title and a one-sentence description', () => {
      expect(tool.title.trim()).not.toBe('');
      const text = tool.description.trim();
      expect(text.length).toBeGreaterThan(20);
      expect(text.length).toBeLessThanOrEqual(300);
      expect(text).toMatch(/\.$/);
      const sentences = text
        .replace(/\b(e\.g|i\.e|etc)\./g, '')
        .split(/[.!?](?:\s+|$)/)
        .filter((s) => s.trim() !== '');
      expect(sentences).toHaveLength(1);
    });

    it('sets all four annotations as explicit booleans, in the definition and on tools/list', () => {
      for (const key of ANNOTATIONS) {
        expect(typeof tool.annotations[key], key).toBe('boolean');
        expect(listed().annotations?.[key], key).toBe(tool.annotations[key]);
      }
      if (tool.annotations.readOnlyHint) expect(tool.annotations.destructiveHint).toBe(false);
    });

    it('needs one of the four roles and says which on tools/list', () => {
      expect(ROLES).toContain(tool.role);
      expect(listed().description).toContain(`Requires role: ${tool.role}.`);
    });

    it('publishes a strict input schema whose every field is described', () => {
      const input = listed().inputSchema as {
        type: string;
        additionalProperties?: unknown;
        properties?: Record<string, { description?: string }>;
      };
      expect(input.type).toBe('object');
      expect(input.additionalProperties).toBe(false);
      expect(Object.keys(input.properties ?? {})).toEqual(Object.keys(tool.input));
      for (const [field, schema] of Object.entries(input.properties ?? {})) {
        expect(schema.description?.trim() ?? '', `${name}.${field} has no description`).not.toBe('');
      }
    });

    it('has an output schema, published strict on tools/list', () => {
      expect(Object.keys(tool.output).length).toBeGreaterThan(0);
      const output = listed().outputSchema as
        { type: string; additionalProperties?: unknown; properties?: Record<string, unknown> } | undefined;
      expect(output?.type).toBe('object');
      expect(output?.additionalProperties).toBe(false);
      expect(Object.keys(output?.properties ?? {})).toEqual(Object.keys(tool.output));
    });
  });

  it.each(TOOLS.filter(isListTool).map((t) => [t.name, t] as const))(
    '%s pages with limit and cursor and answers next_cursor',
    (_name, tool) => {
      expect(Object.keys(tool.input)).toEqual(expect.arrayContaining(['limit', 'cursor']));
      expect(Object.keys(tool.output)).toContain('next_cursor');
    },
  );
});
