// The per-peer WORM audit log as a use case: append an entry (at the injected clock's time), page it
// oldest first, recompute its hash chain, and report the chain head heartbeats carry. Resolving a
// peer's name to its id and checking the caller's role belong to the callers.
import type { AuditEntry, ChainHead, ChainVerification, NewAuditEntry } from '../domain/audit.js';
import { decodeCursor, toPage, type Page } from '../domain/paging.js';
import { InvalidInputError, NotFoundError } from '../errors.js';
import {
  findChainHead,
  findEntryHash,
  findFirstBadSequence,
  insertAuditEntry,
  listAuditEntries,
} from '../store/audit-repository.js';
import type { Db } from '../store/executor.js';
import type { ServiceDeps } from './context.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_TEXT = 200;

function requirePeerId(peerId: string): void {
  if (!UUID.test(peerId)) throw new InvalidInputError(`federation peer id ${peerId} is not a uuid`);
}

export class AuditService {
  constructor(private readonly deps: ServiceDeps) {}

  /**
   * Appends an entry to the peer's log. Pass the open transaction as `db` to record the entry beside the
   * change it describes (on PGlite, a query on the store's `db` while a transaction is open never returns).
   */
  async append(peerId: string, entry: NewAuditEntry, db: Db = this.deps.db): Promise<AuditEntry> {
    requirePeerId(peerId);
    for (const [field, value] of [
      ['actor', entry.actor],
      ['action', entry.action],
    ] as const) {
      if (value.length === 0 || value.length > MAX_TEXT) {
        throw new InvalidInputError(`audit ${field} must be 1–${MAX_TEXT} characters`);
      }
    }
    if (typeof entry.payload !== 'object' || entry.payload === null || Array.isArray(entry.payload)) {
      throw new InvalidInputError('audit payload must be a JSON object');
    }
    try {
      return await insertAuditEntry(db, peerId, entry, this.deps.clock.now());
    } catch (err) {
      if ((err as { code?: unknown }).code === '23503') {
        throw new NotFoundError(`federation peer ${peerId} does not exist`, { cause: err });
      }
      throw err;
    }
  }

  /** One page of the peer's log, oldest first; pass the returned cursor to continue. */
  async page(peerId: string, opts: { limit: number; cursor?: string }): Promise<Page<AuditEntry>> {
    requirePeerId(peerId);
    let afterSequence = 0;
    if (opts.cursor !== undefined) {
      const { sequence } = decodeCursor(opts.cursor, ['sequence']);
      if (!/^\d{1,15}$/.test(sequence)) decodeCursor('', ['sequence']); // throws the cursor error
      afterSequence = Number(sequence);
    }
    const rows = await listAuditEntries(this.deps.db, peerId, { afterSequence, limit: opts.limit + 1 });
    return toPage(rows, opts.limit, (e) => ({ sequence: String(e.sequence) }));
  }

  /** Recomputes the peer's chain from its first entry; an empty log is valid. */
  async verify(peerId: string): Promise<ChainVerification> {
    requirePeerId(peerId);
    const { firstBadSequence, checked } = await findFirstBadSequence(this.deps.db, peerId);
    return { valid: firstBadSequence === null, firstBadSequence, checked };
  }

  /** The newest sequence and hash, for heartbeats; `{ 0, GENESIS_HASH }` when the log is empty. */
  async chainHead(peerId: string): Promise<ChainHead> {
    requirePeerId(peerId);
    return findChainHead(this.deps.db, peerId);
  }

  /**
   * The stored hash at `sequence`, or null past the head. A peer holding a head this side reported
   * earlier compares it with this: a different hash means history up to there was rewritten.
   */
  async hashAt(peerId: string, sequence: number): Promise<string | null> {
    requirePeerId(peerId);
    if (!Number.isSafeInteger(sequence) || sequence < 1) throw new InvalidInputError('sequence must be 1 or more');
    return findEntryHash(this.deps.db, peerId, sequence);
  }
}
