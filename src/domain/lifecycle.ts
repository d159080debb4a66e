// The module version lifecycle as a pure transition table. Pure: no I/O.
import type { Role } from './roles.js';

export const LIFECYCLE_STATES = ['draft', 'published', 'blessed', 'live', 'archived'] as const;
export type LifecycleState = (typeof LIFECYCLE_STATES)[number];

/** Legal next states, one step forward at a time; anything published or later can be archived. */
const NEXT: Record<LifecycleState, readonly LifecycleState[]> = {
  draft: ['published'],
  published: ['blessed', 'archived'],
  blessed: ['live', 'archived'],
  live: ['archived'],
  archived: ['published'],
};

export function nextLifecycleStates(from: LifecycleState): readonly LifecycleState[] {
  return NEXT[from];
}

export type TransitionCheck =
  { ok: true; requiredRole: Role } | { ok: false; reason: 'same_state' | 'not_next'; legal: readonly LifecycleState[] };

/** Decides whether `from → to` is legal and which role it needs (restoring an archived version is admin-only). */
export function checkLifecycleTransition(from: LifecycleState, to: LifecycleState): TransitionCheck {
  const legal = NEXT[from];
  if (from === to) return { ok: false, reason: 'same_state', legal };
  if (!legal.includes(to)) return { ok: false, reason: 'not_next', legal };
  return { ok: true, requiredRole: from === 'archived' ? 'admin' : 'operator' };
}

/** States a rollout may target. */
export const DEPLOYABLE_STATES: readonly LifecycleState[] = ['published', 'blessed', 'live'];
