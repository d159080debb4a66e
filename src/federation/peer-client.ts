// Outbound calls to a peer's /federation/v1 API over undici: plain JSON for accept (the token is the
// credential), signed with the platform key for everything after. Answers the status and JSON body;
// an unreachable peer is an UnavailableError. Decides nothing about what an answer means.
import { request } from 'undici';
import {
  ConflictError,
  ForbiddenError,
  InvalidInputError,
  NotFoundError,
  ResidencyViolationError,
  UnauthorizedError,
  UnavailableError,
  type FlotillaError,
} from '../errors.js';
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

/**
 * A peer's refusal as this platform reports it: the same kind of error (400, 401, 403 — residency
 * violations keep their code —, 404, 409; anything else is unavailable), `text` as the message, the
 * peer's status and code in details, and the hint given for that status.
 */
export function refusalError(
  text: string,
  answer: PeerAnswer,
  hints: Partial<Record<number, string>> = {},
): FlotillaError {
  const { code } = peerError(answer);
  const hint = hints[answer.status];
  const options = {
    details: { remote_status: answer.status, remote_code: code },
    ...(hint === undefined ? {} : { hint }),
  };
  switch (answer.status) {
    case 400:
      return new InvalidInputError(text, options);
    case 401:
      return new UnauthorizedError(text, options);
    case 403:
      return code === 'data_residency_violation'
        ? new ResidencyViolationError(text, options)
        : new ForbiddenError(text, options);
    case 404:
      return new NotFoundError(text, options);
    case 409:
      return new ConflictError(text, options);
    default:
      return new UnavailableError(text, options);
  }
}
