// The rules of signed peer calls after the handshake, as pure functions: the envelope every call
// carries, when an outbox delivery is retried and how long it waits, and when a peer counts as lost.
import { z } from 'zod';

/** Operation names: dotted lower-case words, e.g. `inventory.summary`. */
export const OPERATION_NAME = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/;

/** What every signed call's body is: who it acts for, its idempotency key for writes, its arguments. */
export const callEnvelopeSchema = z.strictObject({
  /** The receiving platform's id: a call signed for one peer is refused by any other. */
  to: z.uuid(),
  on_behalf_of: z.string().min(1).max(128).nullable(),
  idempotency_key: z.uuid().nullable(),
  args: z.record(z.string(), z.unknown()),
});
export type CallEnvelope = z.infer<typeof callEnvelopeSchema>;

/** An outbox delivery is given up after this many attempts (about a day at the capped backoff). */
export const MAX_OUTBOX_ATTEMPTS = 300;
/** How long a claimed delivery stays claimed: past it, another replica may try again. */
export const OUTBOX_LEASE_MS = 60_000;
const MIN_BACKOFF_MS = 1_000;
const MAX_BACKOFF_MS = 5 * 60_000;

/** The wait before attempt `attempts + 1`: 1 s doubling to 5 min, with ±20 % jitter from `random` in [0, 1). */
export function outboxBackoffMs(attempts: number, random: number): number {
  const base = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** Math.max(0, Math.min(attempts - 1, 20)));
  return Math.round(base * (0.8 + 0.4 * random));
}

/**
 * True when a peer's answer settles the call for good: a success, or a refusal that a retry cannot
 * change (bad input, forbidden, not found, conflict). 401 is retried: a clock skew or a peering that is
 * still activating heals; 5xx, 408, 429 and no answer at all are retried too.
 */
export function isFinalAnswer(status: number): boolean {
  if (status >= 200 && status < 300) return true;
  return status === 400 || status === 403 || status === 404 || status === 409 || status === 413 || status === 422;
}

/** A peer not heard from for this long shows lost_contact: three missed heartbeats. */
export function lostContactAfterMs(heartbeatMs: number): number {
  return 3 * heartbeatMs;
}

/** A chain head one side reports for its log of a peering. */
export interface ReportedHead {
  sequence: number;
  hash: string;
}

export const reportedHeadSchema = z.strictObject({
  sequence: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  hash: z.string().regex(/^[0-9a-f]{64}$/),
});

/**
 * Compares what a peer says its log holds now with what it reported before. `recorded` is the hash this
 * side recorded for `witness.sequence` (null when it recorded none there). Rewritten history shows as a
 * different hash for a sequence already reported, or a head behind one already reported.
 */
export function chainConsistent(
  head: ReportedHead,
  newestRecordedSequence: number,
  witness: ReportedHead | null,
  recorded: string | null,
): { ok: true } | { ok: false; sequence: number } {
  if (head.sequence < newestRecordedSequence) return { ok: false, sequence: head.sequence + 1 };
  if (witness !== null && recorded !== null && witness.hash !== recorded)
    return { ok: false, sequence: witness.sequence };
  return { ok: true };
}

/** A signed call queued for a peer, as the outbox holds it. */
export type OutboxStatus = 'pending' | 'delivered' | 'failed';

export interface OutboxEntry {
  id: string;
  federationPeerId: string;
  operation: string;
  idempotencyKey: string;
  onBehalfOf: string | null;
  args: Record<string, unknown>;
  status: OutboxStatus;
  attempts: number;
  nextAttemptAt: Date;
  lastError: string | null;
  responseStatus: number | null;
  response: unknown;
  createdBy: string;
  createdAt: Date;
  finishedAt: Date | null;
}
