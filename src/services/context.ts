// What every service is built from: the store, the clock and a logger.
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Clock } from '../scheduler/clock.js';
import type { Database } from '../store/database.js';

export interface ServiceDeps {
  db: Kysely<Database>;
  clock: Clock;
  logger: Logger;
  /** Waits between polls (watch_rollout); tests inject one that advances a manual clock. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}
