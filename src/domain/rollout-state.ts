// The rollout state machine: which transitions are legal. Pure: no I/O.

export const ROLLOUT_STATES = [
  'planned',
  'pending_approval',
  'running',
  'paused',
  'circuit_open',
  'rolling_back',
  'rolled_back',
  'aborted',
  'completed',
  'failed',
] as const;
export type RolloutState = (typeof ROLLOUT_STATES)[number];

export const ACTIVE_ROLLOUT_STATES: readonly RolloutState[] = [
  'planned',
  'pending_approval',
  'running',
  'paused',
  'circuit_open',
  'rolling_back',
];

export type RolloutEvent =
  | 'submit_for_approval'
  | 'auto_approve'
  | 'approve'
  | 'reject'
  | 'expire'
  | 'pause'
  | 'resume'
  | 'trip'
  | 'continue'
  | 'rollback'
  | 'abort'
  | 'complete'
  | 'rolled_back'
  | 'fail';

const TABLE: Partial<Record<RolloutState, Partial<Record<RolloutEvent, RolloutState>>>> = {
  planned: { submit_for_approval: 'pending_approval', auto_approve: 'running', abort: 'aborted' },
  pending_approval: { approve: 'running', reject: 'aborted', expire: 'aborted', abort: 'aborted' },
  running: {
    pause: 'paused',
    trip: 'circuit_open',
    complete: 'completed',
    rollback: 'rolling_back',
    abort: 'aborted',
    fail: 'failed',
  },
  paused: { resume: 'running', rollback: 'rolling_back', abort: 'aborted' },
  circuit_open: { continue: 'running', rollback: 'rolling_back', abort: 'aborted', expire: 'aborted' },
  rolling_back: { rolled_back: 'rolled_back', fail: 'failed' },
};

/** The next state, or null when `event` is not legal in `from`. */
export function nextRolloutState(from: RolloutState, event: RolloutEvent): RolloutState | null {
  return TABLE[from]?.[event] ?? null;
}

/** Events accepted in a state (for error messages). */
export function legalRolloutEvents(from: RolloutState): RolloutEvent[] {
  return Object.keys(TABLE[from] ?? {}) as RolloutEvent[];
}

export function isActiveRollout(state: RolloutState): boolean {
  return ACTIVE_ROLLOUT_STATES.includes(state);
}
