// Benchmark 6's helpers in the benchmark process: the in-flight agents (the instances a batch started
// heartbeat over HTTP, as their agents would) and a sampler of each platform's reconciler ticks
// (get_platform_info over MCP). Neither reads or writes anything but the platform's API and records.
import { sql } from 'kysely';
import { Agent, request } from 'undici';
import { agentToken } from './fleet-fixture.js';
import type { ServedPlatform } from './served-platform.js';

/** An in-flight instance reports the target digest healthy this long after its batch started. */
export const APPLY_DELAY_MS = 300;
/** How often the driver looks for instances a batch started (as an agent's next heartbeat would learn it). */
export const POLL_MS = 100;
/** An instance still upgrading this long after its heartbeat heartbeats again. */
const RESEND_MS = 2_000;

/**
 * Heartbeats the instances a platform's leg started: every POLL_MS it reads the leg's upgrading targets,
 * and each new one sends, APPLY_DELAY_MS later, one heartbeat over HTTP with the target digest, health ok.
 */
export class InFlightAgents {
  private readonly http = new Agent({ connections: 16, keepAliveTimeout: 30_000 });
  private readonly sentAt = new Map<string, number>();
  private readonly pending = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private polling = false;
  heartbeats = 0;
  errors = 0;
  lastError: string | null = null;

  constructor(
    private readonly p: ServedPlatform,
    private readonly federatedRolloutId: string,
    private readonly digest: string,
    private readonly moduleName: string,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.poll(), POLL_MS);
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await Promise.allSettled([...this.pending]);
    await this.http.close();
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const rows = await sql<{ name: string }>`
        SELECT i.name FROM rollout_targets t
        JOIN rollouts r ON r.id = t.rollout_id
        JOIN instances i ON i.id = t.instance_id
        WHERE r.federation_rollout_ref = ${this.federatedRolloutId} AND t.state = 'upgrading'`.execute(this.p.store.db);
      const now = Date.now();
      for (const { name } of rows.rows) {
        const sent = this.sentAt.get(name);
        if (sent !== undefined && now - sent < RESEND_MS) continue;
        this.sentAt.set(name, now);
        const job = this.beatLater(name, sent === undefined ? APPLY_DELAY_MS : 0);
        this.pending.add(job);
        void job.finally(() => this.pending.delete(job));
      }
    } catch (err) {
      this.errors += 1;
      this.lastError = (err as Error).message;
    } finally {
      this.polling = false;
    }
  }

  private async beatLater(name: string, delayMs: number): Promise<void> {
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    const index = Number(name.slice(name.lastIndexOf('-') + 1));
    try {
      const res = await request(new URL('/agents/v1/heartbeat', this.p.url), {
        method: 'POST',
        dispatcher: this.http,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${agentToken(index)}` },
        body: JSON.stringify({
          running_module_digests: { [this.moduleName]: this.digest },
          health: 'ok',
          status: 'running',
        }),
      });
      await res.body.dump();
      if (res.statusCode !== 200) throw new Error(`heartbeat of ${name} answered ${res.statusCode}`);
      this.heartbeats += 1;
    } catch (err) {
      this.errors += 1;
      this.lastError = (err as Error).message;
    }
  }
}

/**
 * A platform's reconciler ticks, read from get_platform_info every `everyMs` (one call at a time; below the
 * tick interval, no tick is missed). Each call costs the platform about 0.5–1 ms of CPU.
 */
export class TickSampler {
  readonly at: number[] = [];
  readonly durations: number[] = [];
  calls = 0;
  private stopped = false;
  private loop: Promise<void> = Promise.resolve();

  constructor(
    private readonly p: ServedPlatform,
    private readonly everyMs: number,
  ) {}

  start(): void {
    this.loop = (async () => {
      while (!this.stopped) {
        try {
          const info = await this.p.call('get_platform_info', {});
          this.calls += 1;
          const r = info.reconciler as { last_tick_at: string | null; last_tick_duration_ms: number | null };
          const at = r.last_tick_at === null ? null : Date.parse(r.last_tick_at);
          if (at !== null && at !== this.at[this.at.length - 1]) {
            this.at.push(at);
            this.durations.push(r.last_tick_duration_ms ?? Number.NaN);
          }
        } catch {
          // a sample missed; the next one catches up
        }
        await new Promise((resolve) => setTimeout(resolve, this.everyMs));
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  /** Ticks that started in [from, to]. */
  between(from: number, to: number): { durations: number[]; periods: number[]; count: number } {
    const idx = this.at.flatMap((t, i) => (t >= from && t <= to ? [i] : []));
    return {
      durations: idx.map((i) => this.durations[i]!),
      periods: idx.slice(1).map((i) => this.at[i]! - this.at[i - 1]!),
      count: idx.length,
    };
  }
}
