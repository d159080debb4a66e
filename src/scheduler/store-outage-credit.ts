// Health is judged only on time the store was reachable: after the rollout runner lost the store (or this
// process started), the gap since any replica last reached it is credited to in-flight health deadlines,
// in the same transaction that records the new reach, so a crash credits a gap once or not at all.
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../store/database.js';
import { isConnectionError } from '../store/errors.js';
import { lockRolloutsReconciledAt, setRolloutsReconciledAt } from '../store/platform-repository.js';
import { creditUnreachableTime } from '../store/rollout-targets-repository.js';

export interface StoreOutageCreditDeps {
  db: Kysely<Database>;
  logger: Logger;
  /** The least time an instance gets after recovery to heartbeat again (its heartbeats were lost). */
  freshWindowMs: number;
}

/** Tracks whether the runner lost the store since it last reached it, and credits the gap when it is back. */
export class StoreOutageCredit {
  /** True until the first credit: the gap since the last tick of any replica (a restart) counts too. */
  private unreachable = true;

  constructor(private readonly deps: StoreOutageCreditDeps) {}

  /** Called with whatever a tick threw: a lost connection means the store was unreachable. */
  noteFailure(err: unknown): void {
    if (isConnectionError(err)) this.unreachable = true;
  }

  /**
   * Records that the store is reachable at `now`; when it was not, moves in-flight health deadlines later
   * by the time since the store was last reached. Returns the credited gap in ms (0 when none).
   */
  async credit(now: Date): Promise<number> {
    const unreachable = this.unreachable;
    const gapMs = await this.deps.db.transaction().execute(async (trx) => {
      const last = await lockRolloutsReconciledAt(trx);
      const gap = unreachable && last !== null ? now.getTime() - last.getTime() : 0;
      let moved = 0;
      if (gap > 0)
        moved = await creditUnreachableTime(trx, { gapMs: gap, freshWindowMs: this.deps.freshWindowMs, now });
      if (last === null || now.getTime() > last.getTime()) await setRolloutsReconciledAt(trx, now);
      if (moved > 0) {
        this.deps.logger.warn(
          { unreachableMs: gap, targets: moved },
          'store was unreachable; in-flight health deadlines moved later by that time',
        );
      }
      return gap > 0 ? gap : 0;
    });
    this.unreachable = false;
    return gapMs;
  }
}
