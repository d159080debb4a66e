// `flotilla serve --stdio` as a real child process: the SDK's stdio client speaks to it, stdout carries
// JSON-RPC and nothing else (the bootstrap token banner goes to stderr), and a wrong FLOTILLA_OPERATOR
// stops the process with one clear line instead of leaving it running.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/db.js';
import { migrateToLatest } from '../../src/store/migrator.js';
import { silentLogger } from '../helpers/store.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = path.join(ROOT, 'bin/flotilla.js');
/** First open of a PGlite folder plus tsx start-up: seconds on an idle machine, more on a busy one. */
const SLOW = 120_000;

const serveArgs = (dataDir: string): string[] => [
  BIN,
  'serve',
  '--stdio',
  '--no-http',
  '--database-url',
  `pglite://${dataDir}`,
  '--log-level',
  'warn',
];

describe('flotilla serve --stdio', () => {
  let tmp: string;

  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'flotilla-stdio-'));
  });
  afterAll(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  describe('as the bootstrap admin', () => {
    let client: Client;
    let transport: StdioClientTransport;
    const stdoutErrors: Error[] = [];
    let stderr = '';

    beforeAll(async () => {
      transport = new StdioClientTransport({
        command: process.execPath,
        args: serveArgs(path.join(tmp, 'admin')),
        cwd: ROOT,
        env: getDefaultEnvironment(),
        stderr: 'pipe',
      });
      transport.stderr?.on('data', (chunk: Buffer) => {
        stderr += chunk.toString('utf8');
      });
      client = new Client({ name: 'flotilla-stdio-test', version: '0.0.0' });
      // A line on stdout that is not JSON-RPC reaches the transport's error handler, not a request.
      client.onerror = (err) => stdoutErrors.push(err);
      await client.connect(transport);
    }, SLOW);
    afterAll(() => client.close());

    it('lists the tools', async () => {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(['get_platform_info', 'publish_module_version']));
    });

    it('calls get_platform_info as the bootstrap admin', async () => {
      await client.listTools();
      const result = await client.callTool({ name: 'get_platform_info', arguments: {} });
      expect(result.isError ?? false).toBe(false);
      expect(result.structuredContent).toMatchObject({
        store_kind: 'pglite',
        caller: { name: 'admin', role: 'admin', roles: ['viewer', 'operator', 'approver', 'admin'] },
      });
    });

    it('writes nothing but JSON-RPC to stdout', () => {
      expect(stdoutErrors).toEqual([]);
    });

    it('shows the bootstrap token once, on stderr', () => {
      expect(stderr).toContain('Bootstrap admin "admin" created');
      expect(stderr.match(/^\s+flo_\S+$/gm)).toHaveLength(1);
    });
  });

  it(
    'exits non-zero with one clear line when FLOTILLA_OPERATOR names no operator',
    async () => {
      // An existing folder, as when a platform is restarted with a typo: an open PGlite would then keep
      // the process alive for good unless start-up closes it.
      const dataDir = path.join(tmp, 'ghost');
      const store = await openStore({ kind: 'pglite', dataDir }, { logger: silentLogger });
      await migrateToLatest(store.db);
      await store.close();

      const child = spawn(process.execPath, serveArgs(dataDir), {
        cwd: ROOT,
        env: { ...getDefaultEnvironment(), FLOTILLA_OPERATOR: 'ghost' },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      let refusedAt = 0;
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString('utf8');
        if (refusedAt === 0 && stderr.includes('flotilla: operator ghost')) refusedAt = performance.now();
      });
      // stdin stays open: the process must end on its own, not because its client hung up.
      const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
      const lingeredMs = performance.now() - refusedAt;
      child.stdin.end();
      expect(code).toBe(1);
      expect(stderr).toMatch(/^flotilla: operator ghost does not exist or is revoked — .*FLOTILLA_OPERATOR/m);
      expect(stdout).toBe('');
      // Left open, PGlite's own 10 s timer holds the process at least that long after the refusal (and
      // with stdin open, often for good); closing the store lets it exit at once.
      expect(lingeredMs).toBeLessThan(5_000);
    },
    SLOW,
  );
});
