// Reading the event log: newest first by kind prefix, paged with an opaque cursor.
import { decodeCursor, toPage, type Page } from '../domain/paging.js';
import type { FlotillaEvent } from '../domain/types.js';
import { listRecentEvents } from '../store/events-repository.js';
import type { ServiceDeps } from './context.js';

/** Event ids are Postgres bigints: a cursor id above this would make the query fail, not page. */
const MAX_EVENT_ID = 2n ** 63n - 1n;

function isEventId(id: string): boolean {
  return /^\d{1,19}$/.test(id) && BigInt(id) <= MAX_EVENT_ID;
}

export class EventsService {
  constructor(private readonly deps: ServiceDeps) {}

  async recent(opts: { kindPrefix: string; limit: number; cursor?: string }): Promise<Page<FlotillaEvent>> {
    const beforeId = opts.cursor === undefined ? undefined : decodeCursor(opts.cursor, ['id']).id;
    if (beforeId !== undefined && !isEventId(beforeId)) decodeCursor('', ['id']); // throws the cursor error
    const rows = await listRecentEvents(this.deps.db, {
      prefix: opts.kindPrefix,
      limit: opts.limit,
      ...(beforeId === undefined ? {} : { beforeId }),
    });
    return toPage(rows, opts.limit, (e) => ({ id: e.id }));
  }
}
