// HTTP message signatures for peer requests, in the style of RFC 9421 with Content-Digest (RFC 9530):
// Ed25519 over method, authority, path, query and body digest, with created time, nonce and key id.
// Pure apart from node:crypto: no clock (callers pass `now`), no store (nonces are request-auth's).
import { createHash, randomBytes, verify, type KeyObject } from 'node:crypto';
import {
  parseSignatureHeaders,
  type HeaderMap,
  type ParsedSignature,
  type SignatureRefusal,
  readHeader,
  REQUIRED_COMPONENTS,
  SIGNATURE_LABEL,
  SIGNATURE_TAG,
} from './signature-fields.js';

export { parseSignatureHeaders } from './signature-fields.js';
export type { HeaderMap, ParsedSignature, RefusalReason, SignatureRefusal } from './signature-fields.js';

/** Signed requests are accepted while `created` is within this much of the verifier's clock. */
export const MAX_SKEW_MS = 5 * 60_000;

/** A request as it goes on the wire. */
export interface SignableRequest {
  /** HTTP method; compared upper-cased. */
  method: string;
  /** host[:port] the request is addressed to: the signer's `new URL(peerUrl).host`, the verifier's Host header. */
  authority: string;
  /** Path with its query string, exactly as sent: `/federation/v1/heartbeat?x=1`. */
  target: string;
  /** The body bytes exactly as sent (empty for none). */
  body: Uint8Array | string;
}

/** The three headers a signed request carries (a type, not an interface, so it is a HeaderMap). */
export type SignatureHeaders = {
  'content-digest': string;
  'signature-input': string;
  signature: string;
};

/** Signs with the platform key; see keys.ts `PlatformSigner`. */
export interface RequestSigner {
  keyId: string;
  sign(data: Uint8Array): Buffer;
}

export type VerifyResult = { ok: true; signature: ParsedSignature } | SignatureRefusal;

/** `sha-256=:BASE64:` of the body, the Content-Digest value (RFC 9530). */
export function contentDigest(body: Uint8Array | string): string {
  return `sha-256=:${createHash('sha256').update(body).digest('base64')}:`;
}

/** A fresh 128-bit nonce, base64url. */
export function newNonce(): string {
  return randomBytes(16).toString('base64url');
}

/** Signs `request` at `now`; returns the headers to send with it. */
export function signRequest(
  request: SignableRequest,
  signer: RequestSigner,
  opts: { now: Date; nonce?: string },
): SignatureHeaders {
  const digest = contentDigest(request.body);
  const created = Math.floor(opts.now.getTime() / 1000);
  const components = REQUIRED_COMPONENTS.map((c) => `"${c}"`).join(' ');
  const params =
    `(${components});created=${created};nonce="${opts.nonce ?? newNonce()}";keyid="${signer.keyId}"` +
    `;alg="ed25519";tag="${SIGNATURE_TAG}"`;
  const base = signatureBase(request, { 'content-digest': digest }, REQUIRED_COMPONENTS, params);
  return {
    'content-digest': digest,
    'signature-input': `${SIGNATURE_LABEL}=${params}`,
    signature: `${SIGNATURE_LABEL}=:${signer.sign(Buffer.from(base, 'utf8')).toString('base64')}:`,
  };
}

/** Parses and verifies in one step; see `verifyParsedSignature`. */
export function verifyRequest(
  request: SignableRequest,
  headers: HeaderMap,
  publicKey: KeyObject,
  opts: { now: Date; maxSkewMs?: number },
): VerifyResult {
  const parsed = parseSignatureHeaders(headers);
  return parsed.ok ? verifyParsedSignature(request, headers, parsed.signature, publicKey, opts) : parsed;
}

/**
 * Checks, in order: the signature over the rebuilt signature base (`bad_signature`), the body against
 * the signed Content-Digest (`digest_mismatch`), and `created` within ±maxSkewMs of `now`
 * (`stale_timestamp`, `future_timestamp`). Replay is not checked here: record the nonce afterwards.
 */
export function verifyParsedSignature(
  request: SignableRequest,
  headers: HeaderMap,
  parsed: ParsedSignature,
  publicKey: KeyObject,
  opts: { now: Date; maxSkewMs?: number },
): VerifyResult {
  const base = signatureBase(request, headers, parsed.components, parsed.paramsValue);
  if (!verify(null, Buffer.from(base, 'utf8'), publicKey, parsed.signatureBytes)) {
    return refuse('bad_signature', `signature by key ${parsed.keyId} does not verify`);
  }
  const sent = readHeader(headers, 'content-digest');
  const sha256 = sent?.split(',').find((member) => member.trim().startsWith('sha-256='));
  if (sha256?.trim() !== contentDigest(request.body)) {
    return refuse('digest_mismatch', 'body does not match its Content-Digest');
  }
  // Whole milliseconds compared as integers, written so that anything not a number (NaN) fails closed.
  const skew = opts.maxSkewMs ?? MAX_SKEW_MS;
  const createdMs = parsed.createdSec * 1000;
  const nowMs = opts.now.getTime();
  if (!Number.isSafeInteger(createdMs) || !Number.isSafeInteger(nowMs)) {
    return refuse('stale_timestamp', `signature created ${parsed.createdSec} cannot be compared with the clock`);
  }
  if (!(createdMs >= nowMs - skew)) {
    return refuse('stale_timestamp', `signature created ${parsed.created.toISOString()} is older than ${skew} ms`);
  }
  if (!(createdMs <= nowMs + skew)) {
    return refuse('future_timestamp', `signature created ${parsed.created.toISOString()} is ahead by over ${skew} ms`);
  }
  return { ok: true, signature: parsed };
}

/** The RFC 9421 §2.5 signature base: one line per covered component, then `@signature-params`. */
function signatureBase(
  request: SignableRequest,
  headers: HeaderMap,
  components: readonly string[],
  paramsValue: string,
): string {
  const lines = components.map((name) => `"${name}": ${componentValue(request, headers, name)}`);
  lines.push(`"@signature-params": ${paramsValue}`);
  return lines.join('\n');
}

function componentValue(request: SignableRequest, headers: HeaderMap, name: string): string {
  const q = request.target.indexOf('?');
  switch (name) {
    case '@method':
      return request.method.toUpperCase();
    case '@authority':
      return request.authority.toLowerCase();
    case '@path':
      return (q === -1 ? request.target : request.target.slice(0, q)) || '/';
    case '@query':
      return q === -1 ? '?' : request.target.slice(q);
    default:
      // parseSignatureHeaders admits only these derived components and present header fields.
      return readHeader(headers, name) ?? '';
  }
}

function refuse(reason: SignatureRefusal['reason'], message: string): SignatureRefusal {
  return { ok: false, reason, message };
}
