// The reconciler loop: every tick runs each registered step once, in order, never overlapping itself.
// Steps advance persisted state machines; a failing step is logged and the others still run.
import type { Logger } from 'pino';
import type { Clock } from './clock.js';

export interface ReconcilerStep {
  name: string;
  /** Does one bounded unit of work; must be safe to run again after a crash at any point. */
  run(now: Date): Promise<void>;
}

export interface TickReport {
  at: Date;
  durationMs: number;
  failed: string[];
}

export class Reconciler {
  private readonly steps: ReconcilerStep[] = [];
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<TickReport> | null = null;
  private stopped = true;
  lastTick: TickReport | null = null;

  constructor(private readonly deps: { clock: Clock; logger: Logger; tickMs: number }) {}

  register(step: ReconcilerStep): void {
    this.steps.push(step);
  }

  /** Runs one tick now; a tick already in flight is awaited instead of overlapped. */
  tickOnce(): Promise<TickReport> {
    this.running ??= this.runSteps().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async runSteps(): Promise<TickReport> {
    const at = this.deps.clock.now();
    const started = performance.now();
    const failed: string[] = [];
    for (const step of this.steps) {
      try {
        await step.run(at);
      } catch (err) {
        failed.push(step.name);
        this.deps.logger.error({ err, step: step.name }, 'reconciler step failed');
      }
    }
    const report = { at, durationMs: Math.round(performance.now() - started), failed };
    this.lastTick = report;
    return report;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    const loop = (): void => {
      this.timer = setTimeout(() => {
        void this.tickOnce().finally(() => {
          if (!this.stopped) loop();
        });
      }, this.deps.tickMs);
      this.timer.unref();
    };
    void this.tickOnce();
    loop();
  }

  /** Stops scheduling and waits for a tick in flight to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.running !== null) await this.running;
  }
}
