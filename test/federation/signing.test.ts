// Request signatures without a store: a signed request verifies; a forged signature, a tampered body,
// another method, path, query or authority, and a time outside ±5 minutes are refused with their reason.
import { generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { publicKeyId } from '../../src/federation/keys.js';
import { MAX_CREATED_SEC } from '../../src/federation/signature-fields.js';
import {
  contentDigest,
  MAX_SKEW_MS,
  signRequest,
  verifyRequest,
  type RequestSigner,
  type SignableRequest,
  type SignatureHeaders,
} from '../../src/federation/signing.js';
import { signWithCreated } from '../helpers/federation.js';

function keyPair(): { signer: RequestSigner; publicKey: KeyObject } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return { signer: { keyId: publicKeyId(publicKey), sign: (data) => sign(null, data, privateKey) }, publicKey };
}

const alice = keyPair();
const mallory = keyPair();
const NOW = new Date('2026-11-22T12:00:00.000Z');
const request: SignableRequest = {
  method: 'POST',
  authority: 'peer-b.example:8443',
  target: '/federation/v1/heartbeat?since=12',
  body: '{"head":{"sequence":3}}',
};

function signed(at = NOW, req = request): SignatureHeaders {
  return signRequest(req, alice.signer, { now: at, nonce: 'n0nce-n0nce-n0nce-1' });
}

function reasonOf(result: ReturnType<typeof verifyRequest>): string {
  return result.ok ? 'ok' : result.reason;
}

describe('signRequest and verifyRequest', () => {
  it('accepts a request as it was signed, naming its key, nonce and time', () => {
    const result = verifyRequest(request, signed(), alice.publicKey, { now: NOW });
    expect(result).toMatchObject({ ok: true, signature: { keyId: alice.signer.keyId, nonce: 'n0nce-n0nce-n0nce-1' } });
    expect(result.ok && result.signature.created).toEqual(NOW);
  });

  it('writes RFC 9530 Content-Digest (the RFC example body)', () => {
    expect(contentDigest('{"hello": "world"}')).toBe('sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:');
  });

  it('signs the RFC 9421 signature base of method, authority, path, query and digest', () => {
    const headers = signed();
    const params = headers['signature-input'].slice('sig1='.length);
    expect(params).toBe(
      `("@method" "@authority" "@path" "@query" "content-digest");created=${NOW.getTime() / 1000}` +
        `;nonce="n0nce-n0nce-n0nce-1";keyid="${alice.signer.keyId}";alg="ed25519";tag="flotilla-federation"`,
    );
    const base = [
      '"@method": POST',
      '"@authority": peer-b.example:8443',
      '"@path": /federation/v1/heartbeat',
      '"@query": ?since=12',
      `"content-digest": ${contentDigest(request.body)}`,
      `"@signature-params": ${params}`,
    ].join('\n');
    const signature = Buffer.from(headers.signature.slice('sig1=:'.length, -1), 'base64');
    expect(verify(null, Buffer.from(base), alice.publicKey, signature)).toBe(true);
  });

  it('gives every signature a fresh nonce unless told one', () => {
    const a = signRequest(request, alice.signer, { now: NOW })['signature-input'];
    const b = signRequest(request, alice.signer, { now: NOW })['signature-input'];
    expect(a).not.toBe(b);
  });

  it('refuses a signature made with another key as bad_signature', () => {
    const forged = signRequest(request, { ...mallory.signer, keyId: alice.signer.keyId }, { now: NOW });
    expect(reasonOf(verifyRequest(request, forged, alice.publicKey, { now: NOW }))).toBe('bad_signature');
  });

  it('refuses a tampered body as digest_mismatch', () => {
    const tampered = { ...request, body: '{"head":{"sequence":4}}' };
    expect(reasonOf(verifyRequest(tampered, signed(), alice.publicKey, { now: NOW }))).toBe('digest_mismatch');
  });

  it('refuses a tampered body sent with its own Content-Digest as bad_signature', () => {
    const tampered = { ...request, body: '{"head":{"sequence":4}}' };
    const headers = { ...signed(), 'content-digest': contentDigest(tampered.body) };
    expect(reasonOf(verifyRequest(tampered, headers, alice.publicKey, { now: NOW }))).toBe('bad_signature');
  });

  it.each([
    ['method', { method: 'PUT' }],
    ['path', { target: '/federation/v1/revoke?since=12' }],
    ['query', { target: '/federation/v1/heartbeat?since=13' }],
    ['authority', { authority: 'peer-c.example:8443' }],
  ])('refuses a request sent with another %s as bad_signature', (_what, change) => {
    const moved = { ...request, ...change };
    expect(reasonOf(verifyRequest(moved, signed(), alice.publicKey, { now: NOW }))).toBe('bad_signature');
  });

  it('accepts a signature created up to 5 minutes before or after the verifier clock', () => {
    for (const offset of [-MAX_SKEW_MS, MAX_SKEW_MS]) {
      const headers = signed(new Date(NOW.getTime() + offset));
      expect(reasonOf(verifyRequest(request, headers, alice.publicKey, { now: NOW }))).toBe('ok');
    }
  });

  it('refuses a signature created over 5 minutes ago as stale_timestamp', () => {
    const headers = signed(new Date(NOW.getTime() - MAX_SKEW_MS - 1000));
    expect(reasonOf(verifyRequest(request, headers, alice.publicKey, { now: NOW }))).toBe('stale_timestamp');
  });

  it('refuses a signature created over 5 minutes ahead as future_timestamp', () => {
    const headers = signed(new Date(NOW.getTime() + MAX_SKEW_MS + 1000));
    expect(reasonOf(verifyRequest(request, headers, alice.publicKey, { now: NOW }))).toBe('future_timestamp');
  });

  it.each([
    ['beyond what a Date holds', '999999999999999'],
    ['negative and beyond what a Date holds', '-999999999999999'],
    ['negative', '-1'],
    ['eleven digits', '10000000000'],
  ])('refuses a well-signed created that is %s as malformed_signature', (_what, created) => {
    const headers = signWithCreated(request, alice.signer, created);
    const result = verifyRequest(request, headers, alice.publicKey, { now: NOW });
    expect(result).toMatchObject({ ok: false, reason: 'malformed_signature', message: /created/ });
  });

  it('compares the largest created accepted with the clock: far ahead, so future_timestamp', () => {
    const headers = signWithCreated(request, alice.signer, String(MAX_CREATED_SEC));
    expect(reasonOf(verifyRequest(request, headers, alice.publicKey, { now: NOW }))).toBe('future_timestamp');
  });

  it('compares created 0 with the clock: long ago, so stale_timestamp', () => {
    const headers = signWithCreated(request, alice.signer, '0');
    expect(reasonOf(verifyRequest(request, headers, alice.publicKey, { now: NOW }))).toBe('stale_timestamp');
  });

  it('fails closed when the verifier clock is not a time', () => {
    const result = verifyRequest(request, signed(), alice.publicKey, { now: new Date(Number.NaN) });
    expect(result).toMatchObject({ ok: false, reason: 'stale_timestamp' });
  });

  it('refuses a request without signature headers as missing_signature', () => {
    const headers = { 'content-digest': contentDigest(request.body) };
    expect(reasonOf(verifyRequest(request, headers, alice.publicKey, { now: NOW }))).toBe('missing_signature');
  });

  it('refuses a signature that leaves the body digest uncovered as malformed_signature', () => {
    const headers = signed();
    const input = headers['signature-input'].replace(' "content-digest"', '');
    const result = verifyRequest(request, { ...headers, 'signature-input': input }, alice.publicKey, { now: NOW });
    expect(result).toMatchObject({ ok: false, reason: 'malformed_signature', message: /content-digest/ });
  });

  it('refuses a signature made for another protocol tag as malformed_signature', () => {
    const headers = signed();
    const input = headers['signature-input'].replace('flotilla-federation', 'other-app');
    const result = verifyRequest(request, { ...headers, 'signature-input': input }, alice.publicKey, { now: NOW });
    expect(reasonOf(result)).toBe('malformed_signature');
  });

  it('reads header names case-insensitively', () => {
    const headers = signed();
    const upper = {
      'Content-Digest': headers['content-digest'],
      'Signature-Input': headers['signature-input'],
      Signature: headers.signature,
    };
    expect(reasonOf(verifyRequest(request, upper, alice.publicKey, { now: NOW }))).toBe('ok');
  });
});
