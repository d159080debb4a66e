// Authenticates an inbound signed peer request: signature, digest and time (signing.ts), then the nonce,
// recorded in the database so a replay is refused on any replica and after a restart. Decides nothing
// about peer status, boundary rules or grants: the caller's key lookup and later checks do that.
import type { KeyObject } from 'node:crypto';
import type { Db } from '../store/executor.js';
import { deleteNoncesSeenBefore, recordNonce } from '../store/nonces-repository.js';
import {
  MAX_SKEW_MS,
  parseSignatureHeaders,
  verifyParsedSignature,
  type HeaderMap,
  type RefusalReason,
  type SignableRequest,
} from './signing.js';

/**
 * How long a nonce is kept. A request is accepted while `created` is within ±MAX_SKEW_MS of the
 * verifier's clock, so one signed up to MAX_SKEW_MS ahead stays acceptable until 2 × MAX_SKEW_MS after
 * it was first seen; one more minute covers replicas whose clocks disagree a little.
 */
export const NONCE_RETENTION_MS = 2 * MAX_SKEW_MS + 60_000;

/** The peer a keyid names, and the key its signatures must verify under. */
export interface PeerKey {
  peerId: string;
  publicKey: KeyObject;
}

export type PeerAuthResult =
  | { ok: true; peerId: string; keyId: string; nonce: string; created: Date }
  /** `peerId` is set once the keyid named a peer, so the refusal can go on that peer's audit log. */
  | { ok: false; reason: RefusalReason; message: string; peerId?: string };

/**
 * Authenticates `request`. `findPeerKey` maps the signature's keyid to a peer, returning null for a
 * key it does not know or a peer that may not call (revoked, say): the refusal is then `unknown_key`.
 * `recipient`: this platform's id, which the body's `to` must name (covered by the content digest), so a
 * peer cannot replay to us a call another platform signed for it. The nonce is recorded only after the
 * signature verified and the address matched, so strangers cannot fill the nonce table and a refusal
 * changes nothing.
 */
export async function authenticatePeerRequest(
  db: Db,
  request: SignableRequest & { headers: HeaderMap },
  findPeerKey: (keyId: string) => Promise<PeerKey | null>,
  opts: { now: Date; maxSkewMs?: number; recipient?: string },
): Promise<PeerAuthResult> {
  const parsed = parseSignatureHeaders(request.headers);
  if (!parsed.ok) return parsed;
  const { keyId, nonce, created } = parsed.signature;
  const peer = await findPeerKey(keyId);
  if (peer === null) return { ok: false, reason: 'unknown_key', message: `no peer may sign with key ${keyId}` };
  const verified = verifyParsedSignature(request, request.headers, parsed.signature, peer.publicKey, opts);
  if (!verified.ok) return { ...verified, peerId: peer.peerId };
  if (opts.recipient !== undefined) {
    const to = addressedTo(request.body);
    if (to !== opts.recipient) {
      const message = `the request was signed for platform ${to ?? '(none named)'}, not this one (${opts.recipient})`;
      return { ok: false, reason: 'misdirected', message, peerId: peer.peerId };
    }
  }
  if (!(await recordNonce(db, peer.peerId, nonce, opts.now))) {
    return { ok: false, reason: 'replayed_nonce', message: `nonce ${nonce} was already used`, peerId: peer.peerId };
  }
  return { ok: true, peerId: peer.peerId, keyId, nonce, created };
}

/**
 * Forgets nonces too old to matter: seen over NONCE_RETENTION_MS before `now` (computed the same way
 * from `maxSkewMs` when the verifier was given another window). One statement; returns how many.
 */
export async function sweepNonces(db: Db, now: Date, opts: { maxSkewMs?: number } = {}): Promise<number> {
  const retentionMs = opts.maxSkewMs === undefined ? NONCE_RETENTION_MS : 2 * opts.maxSkewMs + 60_000;
  return deleteNoncesSeenBefore(db, new Date(now.getTime() - retentionMs));
}

/** The platform a signed body says it is for: its `to` field, or null. */
function addressedTo(body: SignableRequest['body']): string | null {
  try {
    const json: unknown = JSON.parse(typeof body === 'string' ? body : Buffer.from(body).toString('utf8'));
    const to = (json as { to?: unknown } | null)?.to;
    return typeof to === 'string' ? to : null;
  } catch {
    return null;
  }
}
