// The event log: append-only in the database itself, and recent_events paging (newest first, cursor,
// literal kind prefixes) through EventsService on a real store.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCursor } from '../../src/domain/paging.js';
import type { FlotillaEvent } from '../../src/domain/types.js';
import { FlotillaError } from '../../src/errors.js';
import { ManualClock } from '../../src/scheduler/clock.js';
import { EventsService } from '../../src/services/events-service.js';
import type { Store } from '../../src/store/db.js';
import { appendEvent } from '../../src/store/events-repository.js';
import { openTestStore, silentLogger, STORE_KINDS } from '../helpers/store.js';

const KINDS = ['module.version.published', 'module.version.promoted', 'operator.created', 'federation.peer.joined'];

async function rejection(promise: Promise<unknown>): Promise<{ code?: unknown; message: string }> {
  return promise.then(
    () => {
      throw new Error('expected the statement to be refused');
    },
    (err: { code?: unknown; message: string }) => err,
  );
}

describe.each(STORE_KINDS)('events table on %s', (kind) => {
  let store: Store;
  let clock: ManualClock;
  let events: EventsService;

  /** Reads every page of recent events for a prefix, newest first. */
  async function readAll(kindPrefix: string, limit: number): Promise<{ pages: FlotillaEvent[][] }> {
    const pages: FlotillaEvent[][] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await events.recent({ kindPrefix, limit, ...(cursor === undefined ? {} : { cursor }) });
      pages.push(page.items);
      if (!page.hasMore) return { pages };
      cursor = page.cursorFor(page.items.at(-1)!);
    }
  }

  beforeAll(async () => {
    store = await openTestStore(kind);
    clock = new ManualClock('2026-11-22T00:00:00.000Z');
    events = new EventsService({ db: store.db, clock, logger: silentLogger });
  });
  afterAll(() => store.close());

  describe('append-only', () => {
    let id: string;

    beforeAll(async () => {
      id = await appendEvent(store.db, { kind: 'test.append_only', actor: 'test', payload: { n: 1 } }, clock.now());
    });

    it('refuses UPDATE of an event', async () => {
      const err = await rejection(sql`UPDATE events SET actor = 'mallory' WHERE id = ${id}`.execute(store.db));
      expect(err.code).toBe('42501');
      expect(err.message).toContain('events is append-only');
    });

    it('refuses DELETE of an event', async () => {
      const err = await rejection(sql`DELETE FROM events WHERE id = ${id}`.execute(store.db));
      expect(err.code).toBe('42501');
    });

    it('refuses TRUNCATE of the events table', async () => {
      const err = await rejection(sql`TRUNCATE events`.execute(store.db));
      expect(err.code).toBe('42501');
    });

    it('still holds the event unchanged after the refused statements', async () => {
      const row = await store.db
        .selectFrom('events')
        .select(['actor', 'payload'])
        .where('id', '=', id)
        .executeTakeFirst();
      expect(row).toEqual({ actor: 'test', payload: { n: 1 } });
    });
  });

  describe('recent_events paging', () => {
    const appended: Array<{ id: string; kind: string }> = [];

    beforeAll(async () => {
      for (let i = 0; i < 120; i++) {
        const eventKind = KINDS[i % KINDS.length]!;
        const id = await appendEvent(store.db, { kind: eventKind, actor: 'test', payload: { i } }, clock.advance(1000));
        appended.push({ id, kind: eventKind });
      }
      for (const eventKind of [
        'federation.peer.heartbeat_stale',
        'federation.peer.heartbeatXstale',
        'module.100%done',
        'module.100xdone',
      ]) {
        appended.push({
          id: await appendEvent(store.db, { kind: eventKind, actor: 'test', payload: {} }, clock.now()),
          kind: eventKind,
        });
      }
    });

    it('pages 120 mixed events newest first, 50 at a time, with no gaps or duplicates', async () => {
      const mixed = new Set(KINDS);
      const expected = appended
        .filter((e) => mixed.has(e.kind))
        .map((e) => e.id)
        .reverse();
      const all = await readAll('', 50);
      const ids = all.pages
        .flat()
        .filter((e) => mixed.has(e.kind))
        .map((e) => e.id);
      expect(ids).toEqual(expected);
      const everyId = all.pages.flat().map((e) => BigInt(e.id));
      for (let i = 1; i < everyId.length; i++) expect(everyId[i]! < everyId[i - 1]!).toBe(true);
      expect(all.pages.map((p) => p.length).slice(0, 2)).toEqual([50, 50]);
    });

    it('pages one kind prefix across pages without gaps', async () => {
      const expected = appended
        .filter((e) => e.kind.startsWith('module.version.'))
        .map((e) => e.id)
        .reverse();
      expect(expected).toHaveLength(60);
      const all = await readAll('module.version.', 50);
      expect(all.pages.map((p) => p.length)).toEqual([50, 10]);
      expect(all.pages.flat().map((e) => e.id)).toEqual(expected);
    });

    it('matches "_" in a kind prefix literally', async () => {
      const page = await events.recent({ kindPrefix: 'federation.peer.heartbeat_', limit: 50 });
      expect(page.items.map((e) => e.kind)).toEqual(['federation.peer.heartbeat_stale']);
    });

    it('matches "%" in a kind prefix literally', async () => {
      const page = await events.recent({ kindPrefix: 'module.100%', limit: 50 });
      expect(page.items.map((e) => e.kind)).toEqual(['module.100%done']);
    });

    it.each([
      ['not base64 JSON', 'garbage!!'],
      ['a cursor of another list', encodeCursor({ name: 'alice' })],
      ['a non-numeric id', encodeCursor({ id: 'abc' })],
      ['an id beyond bigint', encodeCursor({ id: '9999999999999999999' })],
    ])('refuses %s as a cursor with invalid_input', async (_what, cursor) => {
      const err = await events.recent({ kindPrefix: '', limit: 50, cursor }).then(
        () => new Error('garbage cursor accepted'),
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(FlotillaError);
      expect((err as FlotillaError).code).toBe('invalid_input');
    });
  });
});
