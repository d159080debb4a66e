// Benchmark 9: how long one diff_manifest call blocks the event loop, through an MCP client (in memory,
// as a viewer) on a PGlite platform: the largest realistic manifest the limits admit, other shapes at the
// limits, and oversized ones that are refused (the 30,000-key manifest that blocked for 14 s among them).
// The block is the longest gap between two ticks of a 1 ms interval timer during the call, less 1 ms.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import pino from 'pino';
import { createApp, type App } from '../src/app.js';
import { MANIFEST_LIMITS } from '../src/domain/manifest-yaml.js';
import { systemClock } from '../src/scheduler/clock.js';
import { openStore, type Store } from '../src/store/db.js';
import { aliasBomb, flatKeys, fleetManifest, LARGEST_FLEET_VERSIONS } from '../test/helpers/manifests.js';
import { formatTable, log, ms, percentile, since, type ResultRow } from './measure.js';

export const GOAL_BLOCK_MS = 100;
const silent = pino({ level: 'silent' });
const HEAD = 'apiVersion: flotilla/v1\nkind: Fleet\n';

interface ManifestCase {
  label: string;
  text: string;
  /** What the limits do with it: admitted (parsed; the schema may still refuse it) or refused. */
  expect: 'admitted' | 'refused';
}

function cases(): ManifestCase[] {
  const mappings = Array.from({ length: 9 }, (_, i) => `m${i}:\n${flatKeys(1_000).replace(/^(?=.)/gm, '  ')}`).join('');
  return [
    {
      label: `largest realistic: ${LARGEST_FLEET_VERSIONS.toLocaleString('en-US')} module versions`,
      text: fleetManifest(LARGEST_FLEET_VERSIONS),
      expect: 'admitted',
    },
    { label: '9 mappings of 1,000 keys', text: `${HEAD}${mappings}`, expect: 'admitted' },
    { label: 'a flow list of 9,900 items', text: `${HEAD}x: [${'1, '.repeat(9_899)}1]\n`, expect: 'admitted' },
    {
      label: 'a 500 KB double-quoted string',
      text: `${HEAD}x: "${'a'.repeat(MANIFEST_LIMITS.chars - 100)}"\n`,
      expect: 'admitted',
    },
    { label: '30,000 top-level keys (the issue)', text: flatKeys(30_000), expect: 'refused' },
    { label: '90,000 top-level keys (over the size)', text: flatKeys(90_000), expect: 'refused' },
    { label: 'alias bomb, 10^6 nodes expanded', text: `${HEAD}${aliasBomb(5)}`, expect: 'refused' },
    { label: '1,000 nested lists on one line', text: `${HEAD}x: ${'- '.repeat(1_000)}a\n`, expect: 'refused' },
    {
      label: '4,900 nested flow lists, closers in strings',
      text: `${HEAD}x: ${'["]", '.repeat(4_900)}1${']'.repeat(4_900)}\n`,
      expect: 'refused',
    },
  ];
}

/** Samples the event loop with a 1 ms interval timer; `stop` returns the longest gap between ticks, less 1 ms. */
function blockSampler(): { stop(): number } {
  let last = performance.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 1);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(0, Math.max(longest, performance.now() - last) - 1);
    },
  };
}

async function viewerClient(app: App, token: string): Promise<Client> {
  const server = app.createMcpServer(() => app.services.operators.authenticate(token));
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: 'flotilla-bench', version: '0.0.0' });
  await client.connect(clientSide);
  return client;
}

/** Is this refusal one of the manifest limits (or the tool's size bound), rather than the schema's? */
function refusedByLimits(text: string): boolean {
  return /YAML tokens|YAML nodes|keys;|levels deep|aliases|characters|too_big|Too big/i.test(text);
}

/** Calls diff_manifest `rounds` times per case after one warm-up call; reports the event-loop block of each. */
export async function benchManifestLimits(opts: { rounds: number }): Promise<ResultRow[]> {
  const started = performance.now();
  log(`== manifest limits: event-loop block of one diff_manifest call, ${opts.rounds} calls per case ==`);
  const L = MANIFEST_LIMITS;
  log(
    `limits: ${L.chars.toLocaleString('en-US')} characters, ${L.tokens.toLocaleString('en-US')} tokens, ` +
      `${L.nodes.toLocaleString('en-US')} nodes, ${L.keysPerMapping.toLocaleString('en-US')} keys per mapping, ` +
      `depth ${L.depth}, ${L.aliases} aliases`,
  );
  let store: Store | null = null;
  let app: App | null = null;
  let client: Client | null = null;
  const rows: ResultRow[] = [];
  try {
    store = await openStore({ kind: 'pglite', dataDir: null }, { logger: silent });
    app = await createApp(
      {
        host: '127.0.0.1',
        port: 0,
        name: 'bench-platform',
        region: 'eu-west',
        tickMs: 5000,
        databaseUrl: undefined,
        allowedOrigins: [],
      },
      { store, clock: systemClock, logger: silent, startReconciler: false },
    );
    const viewer = await app.services.operators.create('bench', { name: 'bench-viewer', role: 'viewer' });
    client = await viewerClient(app, viewer.token);
    const table: string[][] = [];
    for (const c of cases()) {
      const blocks: number[] = [];
      const walls: number[] = [];
      let outcome = '';
      for (let i = 0; i <= opts.rounds; i++) {
        const sampler = blockSampler();
        const start = performance.now();
        const res = await client.callTool({ name: 'diff_manifest', arguments: { manifest: c.text } });
        const wall = performance.now() - start;
        const block = sampler.stop();
        const text = (res.content as Array<{ text: string }>)[0]?.text ?? '';
        outcome = res.isError !== true ? 'diffed' : refusedByLimits(text) ? 'refused by a limit' : 'schema refusal';
        if (i === 0) continue; // warm-up
        blocks.push(block);
        walls.push(wall);
      }
      const matches = c.expect === 'refused' ? outcome === 'refused by a limit' : outcome !== 'refused by a limit';
      if (!matches) throw new Error(`${c.label}: expected ${c.expect}, got ${outcome}`);
      blocks.sort((a, b) => a - b);
      walls.sort((a, b) => a - b);
      const worst = blocks[blocks.length - 1]!;
      const ok = worst < GOAL_BLOCK_MS;
      table.push([
        c.label,
        `${Math.round(c.text.length / 1024)} KB`,
        outcome,
        ms(percentile(blocks, 50)),
        ms(worst),
        ms(percentile(walls, 50)),
        ok ? 'ok' : 'MISSED',
      ]);
      rows.push({
        bench: 'manifest limits (pglite)',
        case: c.label,
        figure: `block p50 ${ms(percentile(blocks, 50))} ms, max ${ms(worst)} ms (${outcome})`,
        goal: `block < ${GOAL_BLOCK_MS} ms`,
        ok,
      });
    }
    log(
      formatTable(
        ['case', 'size', 'outcome', 'block p50 ms', 'block max ms', 'call p50 ms', `< ${GOAL_BLOCK_MS} ms`],
        table,
      ),
    );
  } finally {
    await client?.close();
    await app?.close();
    await store?.close();
  }
  log(`manifest limits done in ${since(started)}`);
  log();
  return rows;
}
