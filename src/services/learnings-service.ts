// Learnings: create and search; plans surface the ones matching their module.
import { decodeTimeIdCursor, toPage, type Page } from '../domain/paging.js';
import type { Caller } from '../domain/roles.js';
import { appendEvent } from '../store/events-repository.js';
import type { Db } from '../store/executor.js';
import { insertLearning, searchLearnings, type Learning } from '../store/learnings-repository.js';
import type { ServiceDeps } from './context.js';
import { requireRole } from './operators-service.js';

export class LearningsService {
  constructor(private readonly deps: ServiceDeps) {}

  async create(
    caller: Caller,
    input: { title: string; category: string; content: string; tags: string[] },
  ): Promise<Learning> {
    requireRole(caller, 'operator', 'recording a learning');
    return this.deps.db.transaction().execute(async (trx) => {
      const now = this.deps.clock.now();
      const tags = [...new Set(input.tags.map((t) => t.toLowerCase()))];
      const learning = await insertLearning(trx, { ...input, tags, by: caller.name, at: now });
      await appendEvent(
        trx,
        {
          kind: 'learning.created',
          actor: caller.name,
          payload: { learning_id: learning.id, title: learning.title, tags },
        },
        now,
      );
      return learning;
    });
  }

  async search(f: {
    text?: string;
    tags?: string[];
    category?: string;
    limit: number;
    cursor?: string;
  }): Promise<Page<Learning>> {
    const before = f.cursor === undefined ? undefined : decodeTimeIdCursor(f.cursor);
    const rows = await searchLearnings(this.deps.db, {
      limit: f.limit,
      ...(f.text === undefined ? {} : { text: f.text }),
      ...(f.tags === undefined ? {} : { tags: f.tags.map((t) => t.toLowerCase()) }),
      ...(f.category === undefined ? {} : { category: f.category }),
      ...(before === undefined ? {} : { before }),
    });
    return toPage(rows, f.limit, (l) => ({ created_at: l.createdAt.toISOString(), id: l.id }));
  }

  /** Learnings related to upgrading `moduleName`: tagged with it or mentioning it. */
  async relatedTo(moduleName: string, limit = 5, db: Db = this.deps.db): Promise<Learning[]> {
    const rows = await searchLearnings(db, {
      text: moduleName,
      tags: [moduleName.toLowerCase(), 'rolling-upgrade'],
      limit,
    });
    return rows.slice(0, limit);
  }
}
