// Bearer tokens: 256-bit random, shown once, stored only as SHA-256 (fast to check, useless if leaked).
import { createHash, randomBytes } from 'node:crypto';

/** A new token with a recognisable prefix (so secret scanners can find a leaked one). */
export function newToken(prefix: string): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
