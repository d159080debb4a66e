// Outbound calls to a peer's /federation/v1 API over undici: plain JSON for accept (the token is the
// credential), signed with the platform key for everything after. Answers the status and JSON body;
// an unreachable peer is an UnavailableError. Decides nothing about what an answer means.
import { request } from 'undici';
import { UnavailableError } from '../errors.js';
import { signRequest, type RequestSigner } from './signing.js';

export interface PeerAnswer {
  status: number;
  json: unknown;
}

const TIMEOUT_MS = 10_000;

/** POSTs `body` as JSON to `path` under `baseUrl`, signed by `signer` at `now` when given. */
export async function postToPeer(
  baseUrl: string,
  path: string,
  body: unknown,
  opts: { signer?: RequestSigner; now?: Date; nonce?: string } = {},
): Promise<PeerAnswer> {
  const url = new URL(path, baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  const text = JSON.stringify(body);
  const signature =
    opts.signer === undefined
      ? {}
      : signRequest(
          { method: 'POST', authority: url.host, target: `${url.pathname}${url.search}`, body: text },
          opts.signer,
          { now: opts.now ?? new Date(), ...(opts.nonce === undefined ? {} : { nonce: opts.nonce }) },
        );
  try {
    const res = await request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...signature },
      body: text,
      headersTimeout: TIMEOUT_MS,
      bodyTimeout: TIMEOUT_MS,
    });
    const json: unknown = await res.body.json().catch(() => null);
    return { status: res.statusCode, json };
  } catch (err) {
    throw new UnavailableError(`peer at ${baseUrl} is unreachable: ${(err as Error).message}`, {
      cause: err,
      hint: 'check the URL and that the peer is running and reachable from this platform',
    });
  }
}

/** The `{ error: { code, message } }` a peer answered with, or a generic one naming the status. */
export function peerError(answer: PeerAnswer): { code: string; message: string } {
  const error = (answer.json as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  return {
    code: typeof error?.code === 'string' ? error.code : 'unknown',
    message: typeof error?.message === 'string' ? error.message : `HTTP ${answer.status}`,
  };
}
