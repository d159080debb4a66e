// Input and output pieces shared by tools: paging, timestamps, and the page size budget.
import { z } from 'zod';
import { clampLimit, pageByKey, type Page } from '../domain/paging.js';
import { safeText } from '../domain/text.js';

export const pagingInput = {
  limit: z.number().int().min(1).optional().describe('page size, default 50; values above 500 are clamped to 500'),
  cursor: safeText({ min: 1, max: 1000 })
    .optional()
    .describe('next_cursor from the previous page; omit for the first page'),
};

export const nextCursorOutput = z
  .string()
  .nullable()
  .describe('pass as cursor to get the next page; null on the last page');

export const isoTime = z.string().describe('ISO 8601 timestamp');

/** Serialised size a page's items may take, so no result exceeds ~8k tokens with its text mirror. */
export const PAGE_BUDGET_CHARS = 14_000;

/**
 * Maps a page's items for output and cuts it short when it would exceed the size budget; the
 * cursor then continues after the last item returned, so nothing is skipped.
 */
export function shapePage<T, U>(page: Page<T>, map: (item: T) => U): { items: U[]; next_cursor: string | null } {
  const items: U[] = [];
  let size = 0;
  for (const item of page.items) {
    const mapped = map(item);
    size += JSON.stringify(mapped).length + 1;
    if (size > PAGE_BUDGET_CHARS && items.length > 0) {
      return { items, next_cursor: page.cursorFor(page.items[items.length - 1]!) };
    }
    items.push(mapped);
  }
  const last = page.items[page.items.length - 1];
  return { items, next_cursor: page.hasMore && last !== undefined ? page.cursorFor(last) : null };
}

export { clampLimit, pageByKey };
