// Error mapping through a real MCP client: a FlotillaError reaches the caller as its code, message and
// hint; anything else becomes `internal` with neither stack nor raw message, which go to the log only.
import { Writable } from 'node:stream';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ConflictError,
  ForbiddenError,
  IllegalTransitionError,
  InvalidInputError,
  NotFoundError,
  ResidencyViolationError,
  UnauthorizedError,
  UnavailableError,
  type ErrorCode,
  type ErrorOptions,
  type FlotillaError,
} from '../../src/errors.js';
import { defineTool } from '../../src/mcp/define-tool.js';
import { call, startTestPlatform, type TestPlatform } from '../helpers/app.js';

const SECRET = 'password=hunter2 host=10.9.8.7';

const SUBCLASSES: Array<[ErrorCode, new (message: string, options?: ErrorOptions) => FlotillaError]> = [
  ['invalid_input', InvalidInputError],
  ['not_found', NotFoundError],
  ['conflict', ConflictError],
  ['forbidden', ForbiddenError],
  ['unauthorized', UnauthorizedError],
  ['illegal_transition', IllegalTransitionError],
  ['unavailable', UnavailableError],
  ['data_residency_violation', ResidencyViolationError],
];

const explode = defineTool({
  name: 'test_explode',
  title: 'Explode',
  description: 'Throws a plain Error carrying a secret.',
  role: 'viewer',
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  input: {},
  output: { ok: z.boolean() },
  handler: async () => {
    throw new Error(`driver failed: ${SECRET}`);
  },
});

const raise = defineTool({
  name: 'test_raise',
  title: 'Raise',
  description: 'Throws the FlotillaError subclass named by code.',
  role: 'viewer',
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  input: { code: z.string().describe('error code to raise') },
  output: { ok: z.boolean() },
  handler: (_ctx, input) => {
    const Subclass = SUBCLASSES.find(([code]) => code === input.code)![1];
    return Promise.reject(
      new Subclass(`raised ${input.code}`, { hint: `handle ${input.code}`, details: { raised: input.code } }),
    );
  },
});

const extraKey = defineTool({
  name: 'test_extra_key',
  title: 'Extra key',
  description: 'Returns a key its output schema does not have.',
  role: 'viewer',
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  input: {},
  output: { ok: z.boolean() },
  handler: () => Promise.resolve({ ok: true, leaked: SECRET } as { ok: boolean }),
});

const lostStore = defineTool({
  name: 'test_lost_store',
  title: 'Lost store',
  description: 'Throws what a refused database connection throws.',
  role: 'viewer',
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  input: {},
  output: { ok: z.boolean() },
  handler: async () => {
    throw Object.assign(new Error(`connect ECONNREFUSED ${SECRET}`), { code: 'ECONNREFUSED' });
  },
});

interface LogLine {
  level: number;
  msg: string;
  tool?: string;
  err?: { message?: string; stack?: string };
}

describe('tool error mapping', () => {
  let platform: TestPlatform;
  let client: Client;
  const lines: LogLine[] = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString('utf8')) as LogLine);
        done();
      },
    }),
  );

  beforeAll(async () => {
    platform = await startTestPlatform('pglite', { logger, extraTools: [explode, raise, extraKey, lostStore] });
    client = await platform.memoryClient();
    await client.listTools();
  });
  afterAll(() => platform.close());
  beforeEach(() => {
    lines.length = 0;
  });

  const rawText = async (name: string, args: Record<string, unknown> = {}): Promise<string> => {
    const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
    expect(result.isError).toBe(true);
    return JSON.stringify(result);
  };

  it('answers an unexpected exception as internal, with no stack and no raw message', async () => {
    const res = await call(client, 'test_explode');
    expect(res.error).toEqual({
      code: 'internal',
      message: 'internal error; it has been logged',
      hint: 'retry, and report it if it persists',
    });
    const wire = await rawText('test_explode');
    expect(wire).not.toContain('hunter2');
    expect(wire).not.toContain('driver failed');
    expect(wire).not.toMatch(/\bat .*\.ts:\d+/);
  });

  it('logs the unexpected exception with its stack and the tool name', async () => {
    await call(client, 'test_explode');
    const logged = lines.filter((l) => l.level === 50 && l.tool === 'test_explode');
    expect(logged).toHaveLength(1);
    expect(logged[0]!.err?.message).toContain('driver failed');
    expect(logged[0]!.err?.stack).toMatch(/\n\s+at /);
  });

  it.each(SUBCLASSES.map(([code]) => code))(
    'answers a thrown %s error as its code with message and hint',
    async (code) => {
      const result = (await client.callTool({ name: 'test_raise', arguments: { code } })) as CallToolResult;
      expect(result.isError).toBe(true);
      const [line, json] = result.content as Array<{ text: string }>;
      expect(line!.text).toBe(`${code}: raised ${code} — next: handle ${code}`);
      expect(JSON.parse(json!.text)).toEqual({
        error: { code, message: `raised ${code}`, hint: `handle ${code}`, details: { raised: code } },
      });
      expect(lines.filter((l) => l.level >= 50)).toEqual([]);
    },
  );

  it('answers output outside the schema as internal and logs which tool produced it', async () => {
    const res = await call(client, 'test_extra_key');
    expect(res.error?.code).toBe('internal');
    expect(await rawText('test_extra_key')).not.toContain('hunter2');
    const logged = lines.find((l) => l.level === 50 && l.tool === 'test_extra_key');
    expect(logged?.err?.message).toContain('test_extra_key produced output outside its schema');
  });

  it('answers a lost store connection as unavailable without the driver message', async () => {
    const res = await call(client, 'test_lost_store');
    expect(res.error).toMatchObject({ code: 'unavailable', hint: 'retry in a few seconds; nothing was changed' });
    expect(await rawText('test_lost_store')).not.toContain('hunter2');
  });
});
