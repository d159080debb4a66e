// Slow and stalled HTTP clients over real loopback: a client that stalls in its headers or its body is
// cut after the configured timeout with no error-level log, while an MCP call answered as a long SSE
// stream (its request fully received) outlives those timeouts.
import net from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineTool } from '../../src/mcp/define-tool.js';
import { startTestPlatform, type TestPlatform } from '../helpers/app.js';

interface LogLine {
  level: number;
  msg: string;
  err?: unknown;
}

/** A tool that reports progress, then holds its call open until the test releases it. */
function holdTool() {
  let release: () => void = () => undefined;
  let started: () => void = () => undefined;
  const released = new Promise<void>((resolve) => (release = resolve));
  const running = new Promise<void>((resolve) => (started = resolve));
  const tool = defineTool({
    name: 'test_hold',
    title: 'Hold',
    description: 'Holds the call open until the test releases it.',
    role: 'viewer',
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    input: {},
    output: { held: z.boolean() },
    handler: async (ctx) => {
      await ctx.progress?.(1, 2, 'holding');
      started();
      await released;
      return { held: true };
    },
  });
  return { tool, running, release };
}

/** Opens a raw connection, writes `text`, then stalls; resolves with what came back once the server closes it. */
function stallAfter(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(text));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
}

/** Fails the test instead of hanging it when a stalled client is never cut. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} not within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

describe('slow HTTP clients', () => {
  const lines: LogLine[] = [];
  const logger = pino(
    { level: 'debug' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString('utf8')) as LogLine);
        done();
      },
    }),
  );
  const hold = holdTool();
  let platform: TestPlatform;
  let port: number;

  beforeAll(async () => {
    platform = await startTestPlatform(
      'pglite',
      { logger, extraTools: [hold.tool] },
      // Small, but not so small that the test's own MCP client is cut while a busy machine runs it.
      { httpTimeouts: { headersMs: 2_000, requestMs: 3_000, checkIntervalMs: 100 } },
    );
    port = platform.app.http!.port;
  });
  afterAll(() => platform.close());
  beforeEach(() => {
    lines.length = 0;
  });

  const errorLines = (): LogLine[] => lines.filter((l) => l.level >= 50);

  it('cuts a client that sends part of its headers and stalls, logging no error', async () => {
    const answer = await within(stallAfter(port, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n'), 20_000, 'cut');
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(errorLines()).toEqual([]);
    const debug = lines.find((l) => l.msg === 'http client error; connection closed');
    expect(debug).toMatchObject({ level: 20, code: 'ERR_HTTP_REQUEST_TIMEOUT' });
    expect(debug?.err).toBeUndefined();
  });

  const partialBody = (): string =>
    'POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
    `Authorization: Bearer ${platform.adminToken}\r\nContent-Length: 100\r\n\r\n{"jsonrpc":`;

  it('cuts a client that stalls in its body, logging the abandoned request at debug without a stack', async () => {
    await within(stallAfter(port, partialBody()), 20_000, 'cut');
    // The handler sees its request abandoned after the cut; wait for that line rather than for time.
    await expect
      .poll(() => lines.some((l) => l.msg.startsWith('http client went away')), { timeout: 20_000 })
      .toBe(true);
    expect(errorLines()).toEqual([]);
    expect(lines.every((l) => l.err === undefined)).toBe(true);
  });

  it('keeps an MCP call streaming over SSE open past the request timeout while a stalled client is cut', async () => {
    const client = await platform.httpClient();
    const progress: string[] = [];
    const result = client.callTool('test_hold', {}, { onProgress: (_p, _t, message) => progress.push(message ?? '') });
    await within(hold.running, 20_000, 'tool started');
    // Started after the stream opened and cut only after the request timeout: the stream has outlived it.
    await within(stallAfter(port, partialBody()), 20_000, 'cut');
    hold.release();
    const answer = await within(result, 20_000, 'held call answered');
    expect(answer.isError).toBe(false);
    expect(answer.structured).toEqual({ held: true });
    expect(progress).toEqual(['holding']);
    expect(errorLines()).toEqual([]);
    await client.close();
  });
});
