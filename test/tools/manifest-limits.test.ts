// diff_manifest and apply_manifest within the manifest limits, through an MCP client: a manifest with too
// many keys, nodes, aliases or nesting is refused as invalid_input naming the limit (the shape that froze
// the process for 14 s among them) and nothing is applied; a duplicate key is still reported at its line and
// column; the largest realistic manifest the limits admit is diffed.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MANIFEST_LIMITS, YAML_COMPOSE_OPTIONS } from '../../src/domain/manifest-yaml.js';
import { call, startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { aliasBomb, flatKeys, fleetManifest, LARGEST_FLEET_VERSIONS } from '../helpers/manifests.js';

const HEAD = 'apiVersion: flotilla/v1\nkind: Fleet\n';

describe('manifest limits', () => {
  let platform: TestPlatform;
  let admin: Client;
  let viewer: Client;

  const versionCount = async (): Promise<number> => {
    const r = await sql<{ n: string }>`SELECT count(*) AS n FROM module_versions`.execute(platform.store.db);
    return Number(r.rows[0]!.n);
  };

  const refusal = async (client: Client, tool: string, manifest: string) => {
    const res = await call(client, tool, { manifest });
    expect(res.isError).toBe(true);
    expect(res.error?.code).toBe('invalid_input');
    return res.error!.message;
  };

  beforeAll(async () => {
    platform = await startTestPlatform('pglite');
    admin = await platform.memoryClient();
    viewer = await platform.memoryClient(await platform.operator('vera', 'viewer'));
  });
  afterAll(async () => {
    await platform?.close();
  });

  it('refuses the 30,000-key manifest that froze the process, before parsing it', async () => {
    const text = flatKeys(30_000);
    expect(text.length).toBeLessThan(MANIFEST_LIMITS.chars);
    const message = await refusal(viewer, 'diff_manifest', text);
    expect(message).toContain(`more than 20,000 YAML tokens`);
    expect(message).toContain('declare fewer items in one manifest');
  });

  it('refuses a mapping with more keys than any field takes, located at the mapping', async () => {
    const message = await refusal(
      viewer,
      'diff_manifest',
      `${HEAD}placement:\n${flatKeys(1_001).replace(/^(?=.)/gm, '  ')}`,
    );
    expect(message).toContain('(line 4, column 3): a mapping with more than 1,000 keys');
  });

  it('refuses many duplicate keys by the key limit, and apply as well, applying nothing', async () => {
    const duplicates = `${HEAD}${'modules: 1\n'.repeat(3_000)}`;
    expect(await refusal(viewer, 'diff_manifest', duplicates)).toContain('a mapping with more than 1,000 keys');
    expect(await refusal(admin, 'apply_manifest', duplicates)).toContain('a mapping with more than 1,000 keys');
    expect(await versionCount()).toBe(0);
  });

  it('reports a duplicate key at its line and column (its own one-pass check; the library check is off)', async () => {
    expect(YAML_COMPOSE_OPTIONS.uniqueKeys).toBe(false);
    const message = await refusal(viewer, 'diff_manifest', `${HEAD}modules: []\nkind: Fleet\n`);
    expect(message).toBe('the manifest is invalid (1 error): (line 4, column 1): Map keys must be unique');
    const many = await refusal(viewer, 'diff_manifest', `${HEAD}${'kind: Fleet\n'.repeat(900)}`);
    expect(many).toMatch(/^the manifest is invalid \(900 errors\): \(line 3, column 1\): Map keys must be unique; /);
  });

  it('refuses an alias bomb by its expanded size, and nesting deeper than any field', async () => {
    expect(await refusal(viewer, 'diff_manifest', `${HEAD}${aliasBomb(6)}`)).toContain(
      'more than 20,000 YAML nodes with its aliases (*name) expanded',
    );
    expect(await refusal(viewer, 'diff_manifest', `${HEAD}x: ${'- '.repeat(1_000)}a\n`)).toContain(
      'nested more than 32 levels deep',
    );
    expect(await refusal(viewer, 'diff_manifest', `${HEAD}x: ${'['.repeat(40)}${']'.repeat(40)}\n`)).toContain(
      'nested more than 32 levels deep',
    );
  });

  it('diffs the largest realistic manifest the limits admit, and refuses one version more', async () => {
    const res = await call(viewer, 'diff_manifest', { manifest: fleetManifest(LARGEST_FLEET_VERSIONS) });
    expect(res.isError, JSON.stringify(res.error)).toBe(false);
    expect(res.data.counts).toEqual({ create: LARGEST_FLEET_VERSIONS, update: 0, delete: 0, none: 0 });
    const over = fleetManifest(LARGEST_FLEET_VERSIONS + 10);
    expect(await refusal(viewer, 'diff_manifest', over)).toContain('more than 20,000 YAML tokens');
  });
});
