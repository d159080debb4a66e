// The platform's Ed25519 identity: loads (on first start, creates) the key pair the replicas share and
// wraps the private key in a signer. The private key stays in the signer's closure: nothing here
// returns, logs or serialises it. Also parses and names peers' public keys.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { InvalidInputError } from '../errors.js';
import type { Clock } from '../scheduler/clock.js';
import type { Db } from '../store/executor.js';
import { loadOrCreateSigningKey } from '../store/platform-keys-repository.js';

/** An Ed25519 public key as a JWK (RFC 8037). */
export interface Ed25519Jwk {
  kty: 'OKP';
  crv: 'Ed25519';
  x: string;
}

/** Signs for the platform. Serialising it (JSON, pino) shows only the public parts. */
export interface PlatformSigner {
  /** RFC 7638 thumbprint of the public key: the `keyid` of every signature. */
  readonly keyId: string;
  /** SPKI PEM, what a peer stores. */
  readonly publicKeyPem: string;
  readonly publicJwk: Ed25519Jwk;
  /** Ed25519 signature of `data`. */
  sign(data: Uint8Array): Buffer;
}

/** Loads the platform's key pair from the store, creating it on the very first start. */
export async function loadPlatformSigner(db: Db, clock: Clock): Promise<PlatformSigner> {
  const row = await loadOrCreateSigningKey(db, generateKeyPair, clock.now());
  const privateKey = createPrivateKey(row.privateKeyPem);
  const publicKey = createPublicKey(row.publicKeyPem);
  if (publicKeyId(createPublicKey(privateKey)) !== row.keyId || publicKeyId(publicKey) !== row.keyId) {
    throw new Error('platform_keys holds a key pair whose halves do not match its key_id');
  }
  return Object.freeze({
    keyId: row.keyId,
    publicKeyPem: row.publicKeyPem,
    publicJwk: toJwk(publicKey),
    sign: (data: Uint8Array) => sign(null, data, privateKey),
  });
}

function generateKeyPair(): { keyId: string; publicKeyPem: string; privateKeyPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return {
    keyId: publicKeyId(publicKey),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/** The public key as a JWK. */
export function toJwk(publicKey: KeyObject): Ed25519Jwk {
  const jwk = publicKey.export({ format: 'jwk' });
  return { kty: 'OKP', crv: 'Ed25519', x: String(jwk.x) };
}

/** RFC 7638 JWK thumbprint (SHA-256, base64url) of an Ed25519 public key. */
export function publicKeyId(publicKey: KeyObject): string {
  const { x } = toJwk(publicKey);
  // Required members only, in lexicographic order, no whitespace (RFC 7638 §3.2).
  const canonical = `{"crv":"Ed25519","kty":"OKP","x":"${x}"}`;
  return createHash('sha256').update(canonical, 'utf8').digest('base64url');
}

/** Parses a peer's public key given as SPKI PEM or as an Ed25519 JWK; refuses anything else. */
export function parsePublicKey(key: string | Ed25519Jwk): KeyObject {
  let parsed: KeyObject;
  try {
    parsed = typeof key === 'string' ? createPublicKey(key) : createPublicKey({ key: { ...key }, format: 'jwk' });
  } catch (err) {
    throw new InvalidInputError('public key is neither an SPKI PEM nor a JWK', { cause: err });
  }
  if (parsed.type !== 'public' || parsed.asymmetricKeyType !== 'ed25519') {
    throw new InvalidInputError(
      `public key must be an Ed25519 public key, not ${parsed.asymmetricKeyType ?? 'unknown'}`,
      {
        hint: 'send the platform key as SPKI PEM or as a JWK with kty OKP and crv Ed25519',
      },
    );
  }
  return parsed;
}

/** SPKI PEM of a public key, the form stored in federation_peers.public_key. */
export function publicKeyPem(publicKey: KeyObject): string {
  return publicKey.export({ type: 'spki', format: 'pem' }).toString();
}
