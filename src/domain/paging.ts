// Opaque cursors and limits shared by every list tool. Pure: no I/O.
import { InvalidInputError } from '../errors.js';
import { isStorableText } from './text.js';

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 500;

/** Clamps a requested page size into 1..MAX_LIMIT (above the maximum is clamped, not refused). */
export function clampLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_LIMIT;
  return Math.max(1, Math.min(MAX_LIMIT, Math.floor(limit)));
}

/** Encodes the sort key of the last row returned; callers treat it as opaque. */
export function encodeCursor(key: Record<string, string | number>): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

/** The error for a cursor no list issued: bad cursors are the caller's input, answered invalid_input. */
function badCursor(): InvalidInputError {
  return new InvalidInputError('cursor is not one this tool issued; omit it to start over', {
    hint: 'pass the next_cursor of the previous page unchanged, or omit cursor to start from the first page',
  });
}

/**
 * Decodes a cursor made by `encodeCursor`, checking it carries `fields` as storable strings or finite
 * numbers (a cursor is the caller's input: nothing in it may reach a statement unchecked).
 */
export function decodeCursor<K extends string>(cursor: string, fields: readonly K[]): Record<K, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const out = {} as Record<K, string>;
  for (const field of fields) {
    const value = (parsed as Record<string, unknown> | undefined)?.[field];
    const usable =
      (typeof value === 'string' && isStorableText(value)) || (typeof value === 'number' && Number.isFinite(value));
    if (!usable) throw badCursor();
    out[field] = String(value);
  }
  return out;
}

/** A page of results. `cursorFor(item)` continues after that item, so a caller may cut a page short. */
export interface Page<T> {
  items: T[];
  hasMore: boolean;
  cursorFor(item: T): string;
}

/** Builds a page from rows fetched with limit + 1, so the extra row tells whether another page exists. */
export function toPage<T>(rows: T[], limit: number, keyOf: (row: T) => Record<string, string | number>): Page<T> {
  return { items: rows.slice(0, limit), hasMore: rows.length > limit, cursorFor: (item) => encodeCursor(keyOf(item)) };
}

/** Pages a small in-memory list by a unique string key, in key order, continuing after the cursor's key. */
export function pageByKey<T>(items: readonly T[], keyOf: (item: T) => string, limit: number, cursor?: string): Page<T> {
  const after = cursor === undefined ? undefined : decodeCursor(cursor, ['key']).key;
  const sorted = [...items].sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0));
  const rest = after === undefined ? sorted : sorted.filter((item) => keyOf(item) > after);
  return toPage(rest.slice(0, limit + 1), limit, (item) => ({ key: keyOf(item) }));
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The instants a cursor may carry: years 1 to 9999, what every store keeps and ISO 8601 writes plainly. */
const EARLIEST_MS = Date.parse('0001-01-01T00:00:00.000Z');
const LATEST_MS = Date.parse('9999-12-31T23:59:59.999Z');

/** Decodes a (created_at, id) cursor, checking the time is a date in range and the id a uuid. */
export function decodeTimeIdCursor(cursor: string): { createdAt: Date; id: string } {
  const { created_at, id } = decodeCursor(cursor, ['created_at', 'id']);
  const createdAt = new Date(created_at);
  const ms = createdAt.getTime();
  if (Number.isNaN(ms) || ms < EARLIEST_MS || ms > LATEST_MS || !UUID.test(id)) throw badCursor();
  return { createdAt, id };
}

/** Decodes an id cursor, checking the id is a uuid. */
export function decodeIdCursor(cursor: string): string {
  const { id } = decodeCursor(cursor, ['id']);
  if (!UUID.test(id)) throw badCursor();
  return id;
}
