// Heartbeat ingestion in batches: concurrent heartbeats are gathered for a few milliseconds (or until a
// batch is full) and written with one statement, which also answers each agent's desired versions.
import PQueue from 'p-queue';
import type { Heartbeat } from '../domain/fleet.js';
import { applyHeartbeats, type HeartbeatAck, type HeartbeatRow } from '../store/heartbeat-repository.js';
import type { ServiceDeps } from './context.js';
import { hashToken } from './tokens.js';

interface Pending {
  row: HeartbeatRow;
  waiters: Array<{ resolve(ack: HeartbeatAck | null): void; reject(err: unknown): void }>;
}

export interface IngestorOptions {
  /** Flush as soon as this many distinct agents are waiting. */
  maxBatch: number;
  /** Longest a heartbeat waits for its batch to fill. */
  maxDelayMs: number;
  /** Batches written at once (each takes one pooled connection). */
  concurrency: number;
}

export const DEFAULT_INGESTOR_OPTIONS: IngestorOptions = { maxBatch: 1000, maxDelayMs: 4, concurrency: 4 };

export class HeartbeatIngestor {
  private pending = new Map<string, Pending>();
  private timer: NodeJS.Timeout | null = null;
  private readonly queue: PQueue;
  batchesWritten = 0;
  heartbeatsWritten = 0;

  constructor(
    private readonly deps: ServiceDeps,
    private readonly options: IngestorOptions = DEFAULT_INGESTOR_OPTIONS,
  ) {
    this.queue = new PQueue({ concurrency: options.concurrency });
  }

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
      }
      if (this.pending.size >= this.options.maxBatch) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.options.maxDelayMs);
    });
  }

  private flush(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    void this.queue.add(() => this.write(batch));
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

  /** Writes what is pending and waits for batches in flight. */
  async drain(): Promise<void> {
    this.flush();
    await this.queue.onIdle();
  }
}
