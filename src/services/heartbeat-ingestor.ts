// Heartbeat ingestion in batches (group commit): heartbeats that arrive while statements are running
// gather into the next batch, written with one statement that also answers each agent's desired
// versions. With a statement slot free, what arrived in this event-loop turn is written at once.
// One agent's bad heartbeat never fails another's: a batch the store refuses for a value is split.
import type { Heartbeat } from '../domain/fleet.js';
import { InvalidInputError } from '../errors.js';
import { dataErrorReason, isDataError, isIntegrityError } from '../store/errors.js';
import { applyHeartbeats, type HeartbeatAck, type HeartbeatRow } from '../store/heartbeat-repository.js';
import type { ServiceDeps } from './context.js';
import { hashToken } from './tokens.js';

interface Pending {
  row: HeartbeatRow;
  waiters: Array<{ resolve(ack: HeartbeatAck | null): void; reject(err: unknown): void }>;
}

export interface IngestorOptions {
  /** Most distinct agents in one statement; a full batch waits for a free slot as it is. */
  maxBatch: number;
  /** Statements in flight at once (each takes one pooled connection). */
  concurrency: number;
}

export const DEFAULT_INGESTOR_OPTIONS: IngestorOptions = { maxBatch: 1000, concurrency: 2 };

export class HeartbeatIngestor {
  /** The batch gathering now; heartbeats of one agent in it are merged. */
  private pending = new Map<string, Pending>();
  /** Full batches waiting for a slot, oldest first. */
  private readonly full: Array<Map<string, Pending>> = [];
  private inFlight = 0;
  private immediate: NodeJS.Immediate | null = null;
  private idleWaiters: Array<() => void> = [];
  batchesWritten = 0;
  heartbeatsWritten = 0;

  constructor(
    private readonly deps: ServiceDeps,
    private readonly options: IngestorOptions = DEFAULT_INGESTOR_OPTIONS,
  ) {}

  /**
   * Records one heartbeat for the agent holding `agentToken`; resolves with its desired versions, or
   * null when the token is unknown, revoked or its instance terminated. Rejects when the store fails.
   */
  submit(agentToken: string, heartbeat: Heartbeat): Promise<HeartbeatAck | null> {
    const tokenHash = hashToken(agentToken);
    return new Promise((resolve, reject) => {
      const row: HeartbeatRow = { tokenHash, ...heartbeat };
      const existing = this.pending.get(tokenHash);
      if (existing !== undefined) {
        existing.row = row; // the newer heartbeat of the same agent wins
        existing.waiters.push({ resolve, reject });
      } else {
        this.pending.set(tokenHash, { row, waiters: [{ resolve, reject }] });
        if (this.pending.size >= this.options.maxBatch) {
          this.full.push(this.pending);
          this.pending = new Map();
        }
      }
      this.schedule();
    });
  }

  /**
   * Writes on the next turn if a slot is free: heartbeats read in this turn of the event loop join
   * the batch, and none waits on a timer. With every slot busy, the batch grows until one frees:
   * under load, batches are as large as the statements in flight are slow.
   */
  private schedule(): void {
    if (this.immediate !== null || this.inFlight >= this.options.concurrency) return;
    this.immediate = setImmediate(() => {
      this.immediate = null;
      this.startWrites();
    });
  }

  private startWrites(): void {
    while (this.inFlight < this.options.concurrency) {
      const batch = this.full.shift() ?? (this.pending.size > 0 ? this.pending : undefined);
      if (batch === undefined) break;
      if (batch === this.pending) this.pending = new Map();
      this.inFlight += 1;
      void this.write(batch).finally(() => {
        this.inFlight -= 1;
        if (this.full.length > 0 || this.pending.size > 0) this.schedule();
        else if (this.inFlight === 0) for (const w of this.idleWaiters.splice(0)) w();
      });
    }
  }

  private async write(batch: Map<string, Pending>): Promise<void> {
    await this.writeItems([...batch.values()], this.deps.clock.now());
  }

  /**
   * Writes `items` in one statement. When the store refuses a value (a data or constraint error) the
   * statement wrote nothing, so the items are written again in halves until the heartbeat at fault is
   * alone: it is answered invalid_input and every other item is written. Any other failure (the store
   * unreachable) fails the whole batch, as retrying it item by item would fail the same way.
   */
  private async writeItems(items: Pending[], now: Date): Promise<void> {
    try {
      const acks = await applyHeartbeats(
        this.deps.db,
        items.map((p) => p.row),
        now,
      );
      this.batchesWritten += 1;
      this.heartbeatsWritten += items.length;
      for (const p of items) {
        const ack = acks.get(p.row.tokenHash) ?? null;
        for (const w of p.waiters) w.resolve(ack);
      }
    } catch (err) {
      if (!isDataError(err) && !isIntegrityError(err)) {
        this.deps.logger.warn(
          { err: { message: (err as Error).message }, size: items.length },
          'heartbeat batch failed',
        );
        for (const p of items) for (const w of p.waiters) w.reject(err);
        return;
      }
      if (items.length === 1) {
        this.deps.logger.debug({ err: { message: (err as Error).message } }, 'heartbeat refused by the store');
        const refused = new InvalidInputError(`heartbeat could not be stored: ${dataErrorReason(err)}`, {
          hint: 'send health, status and running_module_digests as documented; nothing of this heartbeat was written',
          cause: err,
        });
        for (const w of items[0]!.waiters) w.reject(refused);
        return;
      }
      const half = Math.ceil(items.length / 2);
      await this.writeItems(items.slice(0, half), now);
      await this.writeItems(items.slice(half), now);
    }
  }

  /** Writes what is pending and waits until no batch is waiting or in flight. */
  async drain(): Promise<void> {
    if (this.immediate !== null) clearImmediate(this.immediate);
    this.immediate = null;
    this.startWrites();
    if (this.inFlight === 0 && this.full.length === 0 && this.pending.size === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }
}
