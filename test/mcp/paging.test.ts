// Paging through list tools: a small limit visits every row once, and a page whose rows would pass
// the size budget is cut short with a cursor that continues after the last row returned.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '../../src/domain/roles.js';
import { PAGE_BUDGET_CHARS } from '../../src/mcp/schemas.js';
import { call, startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { STORE_KINDS } from '../helpers/store.js';

const digest = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;

interface VersionView {
  id: string;
  version: string;
}

describe.each(STORE_KINDS)('list paging on %s', (kind) => {
  let platform: TestPlatform;
  let admin: Client;
  let adminCaller: Caller;

  /** Publishes versions straight through the service (the tool is not what these tests exercise). */
  const publish = async (moduleName: string, versions: string[], tieEvery: number): Promise<void> => {
    for (const [i, version] of versions.entries()) {
      // Several versions share a created_at so the cursor's id tie-break is exercised too.
      if (i % tieEvery === 0) platform.clock.advance(1000);
      await platform.app.services.modules.publish(adminCaller, {
        moduleName,
        version,
        digest: digest(i),
        draft: false,
      });
    }
  };

  /** Every page of list_module_versions from the first, following next_cursor to the end. */
  const allPages = async (moduleName: string, limit: number): Promise<VersionView[][]> => {
    const pages: VersionView[][] = [];
    let cursor: string | undefined;
    for (let guard = 0; guard < 1000; guard++) {
      const res = await call(admin, 'list_module_versions', {
        module_name: moduleName,
        limit,
        ...(cursor === undefined ? {} : { cursor }),
      });
      expect(res.error).toBeUndefined();
      pages.push(res.data.versions as VersionView[]);
      const next = res.data.next_cursor as string | null;
      if (next === null) return pages;
      cursor = next;
    }
    throw new Error('paging did not end');
  };

  /** The module's versions in list order, read in one service call with no size budget. */
  const expectedOrder = async (moduleName: string): Promise<string[]> => {
    const { page } = await platform.app.services.modules.listVersions({ module: { moduleName }, limit: 500 });
    return page.items.map((v) => v.id);
  };

  beforeAll(async () => {
    platform = await startTestPlatform(kind);
    admin = await platform.memoryClient();
    adminCaller = await platform.app.services.operators.authenticate(platform.adminToken);
  });
  afterAll(() => platform.close());

  it('visits every version exactly once, in order, with a small limit', async () => {
    await publish(
      'small-pages',
      Array.from({ length: 23 }, (_, i) => `1.${i}.0`),
      3,
    );
    const pages = await allPages('small-pages', 4);
    expect(pages).toHaveLength(6);
    expect(pages.every((p) => p.length <= 4)).toBe(true);
    expect(pages.flat().map((v) => v.id)).toEqual(await expectedOrder('small-pages'));
  });

  it('answers next_cursor null on a last page that is exactly full', async () => {
    await publish('exact', ['1.0.0', '1.1.0', '1.2.0', '1.3.0'], 2);
    const pages = await allPages('exact', 2);
    expect(pages.map((p) => p.length)).toEqual([2, 2]);
  });

  it('cuts a page at the size budget and continues after its last row with no gap', async () => {
    // 64-character version strings make each row ~450 characters: 60 rows are about twice the budget.
    const versions = Array.from({ length: 60 }, (_, i) => `${String(i).padStart(3, '0')}-${'x'.repeat(60)}`);
    await publish('wide', versions, 7);

    const first = await call(admin, 'list_module_versions', { module_name: 'wide', limit: 500 });
    const firstRows = first.data.versions as VersionView[];
    expect(firstRows.length).toBeGreaterThan(0);
    expect(firstRows.length).toBeLessThan(60);
    expect(JSON.stringify(firstRows).length).toBeLessThanOrEqual(PAGE_BUDGET_CHARS + 2);
    expect(first.data.next_cursor).toEqual(expect.any(String));

    const pages = await allPages('wide', 500);
    expect(pages.length).toBeGreaterThan(1);
    for (const page of pages) expect(JSON.stringify(page).length).toBeLessThanOrEqual(PAGE_BUDGET_CHARS + 2);
    const seen = pages.flat();
    expect(seen.map((v) => v.id)).toEqual(await expectedOrder('wide'));
    expect(seen.map((v) => v.version).sort()).toEqual([...versions].sort());
  });
});
