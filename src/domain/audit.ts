// Per-peer WORM audit log entries as services return them, and what verifying a chain reports.
// Types and constants only: no I/O. The hash itself is computed by the database (flotilla_audit_hash).

/** `prev_hash` of a peer's first entry: 64 zeros. */
export const GENESIS_HASH = '0'.repeat(64);

/** One entry of a peer's audit log. */
export interface AuditEntry {
  federationPeerId: string;
  /** Gap-free from 1 per peer. */
  sequence: number;
  at: Date;
  actor: string;
  action: string;
  payload: Record<string, unknown>;
  /** The previous entry's hash (GENESIS_HASH for sequence 1). */
  prevHash: string;
  /** sha256(prevHash || canonical entry), lower-case hex. */
  hash: string;
}

/** An entry to append; `at` comes from the injected clock, the chain fields from the database. */
export interface NewAuditEntry {
  actor: string;
  action: string;
  payload: Record<string, unknown>;
}

/** The newest entry's sequence and hash: what heartbeats carry. `{ 0, GENESIS_HASH }` for an empty log. */
export interface ChainHead {
  sequence: number;
  hash: string;
}

/** What recomputing a peer's chain found. */
export interface ChainVerification {
  valid: boolean;
  /** The first sequence at which the chain fails (a missing sequence counts), or null when valid. */
  firstBadSequence: number | null;
  /** Entries read. */
  checked: number;
}
