// Heartbeat ingestion in batches (group commit): heartbeats that arrive while statements are running
// gather into the next batch, written with one statement that also answers each agent's desired
// versions. With a statement slot free, what arrived in this event-loop turn is written at once.
import type { Heartbeat } from '../domain/fleet.js';
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
    try {
      const acks = await applyHeartbeats(
        this.deps.db,
        [...batch.values()].map((p) => p.row),
        this.deps.clock.now(),
      );
      this.batchesWritten += 1;
      this.heartbeatsWritten += batch.size;
      for (const [hash, p] of batch) {
        const ack = acks.get(hash) ?? null;
        for (const w of p.waiters) w.resolve(ack);
      }
    } catch (err) {
      this.deps.logger.warn({ err: { message: (err as Error).message }, size: batch.size }, 'heartbeat batch failed');
      for (const p of batch.values()) for (const w of p.waiters) w.reject(err);
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
