// Reads the Signature-Input and Signature fields of a peer request (RFC 9421 §4.1–4.2), strictly: one
// signature, components that are Flotilla's derived ones or header fields present, the parameters
// Flotilla needs. Pure: parsing only, no cryptography, clock or store.

/** The label Flotilla signs under; a verifier accepts any single label. */
export const SIGNATURE_LABEL = 'sig1';
/** `tag` parameter: names this protocol, so a signature made for another purpose is refused. */
export const SIGNATURE_TAG = 'flotilla-federation';
/** Components every signature must cover, in the order Flotilla signs them. */
export const REQUIRED_COMPONENTS = ['@method', '@authority', '@path', '@query', 'content-digest'] as const;

const DERIVED = new Set(['@method', '@authority', '@path', '@query']);
const MEMBER =
  /^([a-z*][a-z0-9_.*-]*)=(\(([^()]*)\)((?:;[a-z*][a-z0-9_.*-]*=(?:"[\x20\x21\x23-\x5b\x5d-\x7e]*"|-?\d{1,15}))*))$/;
const SIGNATURE = /^([a-z*][a-z0-9_.*-]*)=:([A-Za-z0-9+/]+={0,2}):$/;
const PARAM = /;([a-z*][a-z0-9_.*-]*)=(?:"([^"]*)"|(-?\d+))/g;
const NONCE = /^[A-Za-z0-9+/=_-]{16,128}$/;
/**
 * The largest `created` accepted, in seconds since the epoch: ten digits (the year 2286). A bigger or
 * negative value is malformed, so a signature never carries a time the clock checks cannot compare.
 */
export const MAX_CREATED_SEC = 9_999_999_999;

/**
 * Why a signed request was refused. `unknown_key` and `replayed_nonce` come from request-auth, which sees
 * keys and nonces; `misdirected` from the receiver, which knows who it is.
 */
export type RefusalReason =
  | 'missing_signature'
  | 'malformed_signature'
  | 'bad_signature'
  | 'digest_mismatch'
  | 'stale_timestamp'
  | 'future_timestamp'
  | 'unknown_key'
  | 'replayed_nonce'
  | 'misdirected';

export interface SignatureRefusal {
  ok: false;
  reason: RefusalReason;
  /** One line for logs and the audit entry; never contains key material. */
  message: string;
}

/** Request headers as node:http gives them (names lower-case) or any plain map. */
export type HeaderMap = Readonly<Record<string, string | readonly string[] | undefined>>;

export interface ParsedSignature {
  /** Covered components, in the signer's order. */
  components: string[];
  /** The member's value after `label=`: the `@signature-params` line of the signature base. */
  paramsValue: string;
  created: Date;
  /** `created` as sent: whole seconds since the epoch, 0 ≤ createdSec ≤ MAX_CREATED_SEC. */
  createdSec: number;
  nonce: string;
  keyId: string;
  signatureBytes: Buffer;
}

/** A header's value, names compared case-insensitively; repeated fields joined with ", ". */
export function readHeader(headers: HeaderMap, name: string): string | undefined {
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : headers[key];
  return value === undefined ? undefined : typeof value === 'string' ? value : value.join(', ');
}

/** Parses the signature fields; refuses with `missing_signature` or `malformed_signature`. */
export function parseSignatureHeaders(headers: HeaderMap): { ok: true; signature: ParsedSignature } | SignatureRefusal {
  const input = readHeader(headers, 'signature-input')?.trim();
  const signature = readHeader(headers, 'signature')?.trim();
  if (input === undefined || signature === undefined) {
    return refusal('missing_signature', 'request carries no Signature-Input and Signature headers');
  }
  const member = MEMBER.exec(input);
  const sig = SIGNATURE.exec(signature);
  if (member === null || sig === null) return refusal('malformed_signature', 'expected one signature');
  if (sig[1] !== member[1]) return refusal('malformed_signature', 'Signature and Signature-Input labels differ');

  const components = member[3] === '' ? [] : member[3]!.split(' ').map((item) => /^"([a-z0-9@_.-]+)"$/.exec(item)?.[1]);
  if (components.some((c) => c === undefined) || new Set(components).size !== components.length) {
    return refusal('malformed_signature', 'covered components must be distinct quoted names without parameters');
  }
  const covered = components as string[];
  const missing = REQUIRED_COMPONENTS.filter((c) => !covered.includes(c));
  if (missing.length > 0) return refusal('malformed_signature', `signature does not cover ${missing.join(', ')}`);
  const absent = covered.find((c) => (c.startsWith('@') ? !DERIVED.has(c) : readHeader(headers, c) === undefined));
  if (absent !== undefined)
    return refusal('malformed_signature', `covered component ${absent} is unsupported or absent`);

  const params = new Map<string, string | number>();
  for (const [, name, text, num] of member[4]!.matchAll(PARAM)) {
    if (params.has(name!)) return refusal('malformed_signature', `parameter ${name} is repeated`);
    params.set(name!, text ?? Number(num));
  }
  const created = params.get('created');
  const nonce = params.get('nonce');
  const keyId = params.get('keyid');
  if (typeof created !== 'number' || !Number.isSafeInteger(created) || created < 0 || created > MAX_CREATED_SEC) {
    return refusal('malformed_signature', `created must be whole seconds since the epoch, 0 to ${MAX_CREATED_SEC}`);
  }
  if (typeof nonce !== 'string' || !NONCE.test(nonce))
    return refusal('malformed_signature', 'nonce is missing or short');
  if (typeof keyId !== 'string' || keyId === '' || keyId.length > 128) {
    return refusal('malformed_signature', 'keyid is missing or too long');
  }
  if (params.has('alg') && params.get('alg') !== 'ed25519')
    return refusal('malformed_signature', 'alg must be ed25519');
  if (params.get('tag') !== SIGNATURE_TAG) return refusal('malformed_signature', `tag must be ${SIGNATURE_TAG}`);
  const signatureBytes = Buffer.from(sig[2]!, 'base64');
  if (signatureBytes.length !== 64) return refusal('malformed_signature', 'an Ed25519 signature is 64 bytes');
  return {
    ok: true,
    signature: {
      components: covered,
      paramsValue: member[2]!,
      created: new Date(created * 1000),
      createdSec: created,
      nonce,
      keyId,
      signatureBytes,
    },
  };
}

function refusal(reason: 'missing_signature' | 'malformed_signature', message: string): SignatureRefusal {
  return { ok: false, reason, message };
}
