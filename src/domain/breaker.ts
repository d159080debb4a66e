// The rollout circuit breaker as a pure function: outcomes in the order they happened in, a success
// resets the consecutive count, a failure adds to it; an optional cumulative budget once enough
// instances finished. Pure: no I/O (the reconciler is its timed driver).

export interface BreakerConfig {
  maxConsecutiveFailures: number;
  /** Trip when failed/finished exceeds this percent once `minSample` instances finished. */
  maxFailurePct: number | null;
  minSample: number | null;
}

export interface BreakerState {
  consecutive: number;
  /** Instances of the current run of consecutive failures, oldest first. */
  runIds: string[];
  healthyTotal: number;
  failedTotal: number;
}

export interface Outcome {
  instanceId: string;
  healthy: boolean;
}

export interface Trip {
  reason: string;
  failedInstanceIds: string[];
}

export function initialBreaker(): BreakerState {
  return { consecutive: 0, runIds: [], healthyTotal: 0, failedTotal: 0 };
}

/**
 * Applies outcomes in order. The first point at which a limit is reached trips the breaker; later
 * outcomes still count towards totals. An open breaker (`armed` false) records without tripping.
 */
export function applyOutcomes(
  state: BreakerState,
  outcomes: readonly Outcome[],
  config: BreakerConfig,
  armed = true,
): { state: BreakerState; trip: Trip | null } {
  let s = { ...state, runIds: [...state.runIds] };
  let trip: Trip | null = null;
  for (const o of outcomes) {
    if (o.healthy) {
      s = { ...s, consecutive: 0, runIds: [], healthyTotal: s.healthyTotal + 1 };
      continue;
    }
    s = { ...s, consecutive: s.consecutive + 1, runIds: [...s.runIds, o.instanceId], failedTotal: s.failedTotal + 1 };
    if (!armed || trip !== null) continue;
    if (s.consecutive >= config.maxConsecutiveFailures) {
      trip = {
        reason: `max_consecutive_failures (${config.maxConsecutiveFailures}) exceeded`,
        failedInstanceIds: [...s.runIds],
      };
      continue;
    }
    const finished = s.healthyTotal + s.failedTotal;
    if (config.maxFailurePct !== null && finished >= (config.minSample ?? 1)) {
      const pct = (100 * s.failedTotal) / finished;
      if (pct > config.maxFailurePct) {
        trip = {
          reason: `max_failure_pct (${config.maxFailurePct}) exceeded: ${pct.toFixed(1)}% of ${finished} failed`,
          failedInstanceIds: [...s.runIds],
        };
      }
    }
  }
  return { state: s, trip };
}

/** After an operator chooses continue_anyway: failures already seen do not trip it again. */
export function resetAfterContinue(state: BreakerState): BreakerState {
  return { ...state, consecutive: 0, runIds: [] };
}

/**
 * A breaker armed again after recording while disarmed (a paused rollout resumed) trips at once when
 * the run it recorded already reached the limit; null otherwise.
 */
export function tripOnRearm(state: BreakerState, config: BreakerConfig): Trip | null {
  if (state.consecutive < config.maxConsecutiveFailures) return null;
  return {
    reason: `max_consecutive_failures (${config.maxConsecutiveFailures}) exceeded`,
    failedInstanceIds: [...state.runIds],
  };
}
