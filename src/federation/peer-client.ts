// Outbound calls to a peer's /federation/v1 API over undici: plain JSON for accept (the token is the
// credential), signed with the platform key for everything after. Guards the wire: answers are read up to
// a byte cap, calls to one peer are bounded, redirects are never followed, and every connection is checked
// at connect time against the address policy (peer-address.ts), so DNS answers cannot steer it somewhere
// private. Answers the status and JSON body; decides nothing about what an answer means.
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import PQueue from 'p-queue';
import { Agent, buildConnector, request } from 'undici';
import {
  ConflictError,
  FlotillaError,
  ForbiddenError,
  InvalidInputError,
  NotFoundError,
  ResidencyViolationError,
  UnauthorizedError,
  UnavailableError,
} from '../errors.js';
import { classifyAddress, classifyUrlHost } from './peer-address.js';
import { signRequest, type RequestSigner } from './signing.js';

export interface PeerAnswer {
  status: number;
  json: unknown;
}

/** The largest answer body read from a peer; a bigger one is dropped unread and the call fails. */
export const MAX_PEER_RESPONSE_BYTES = 8 * 1024 * 1024;
/** Calls in flight to one peer (one origin) at a time; more wait their turn. */
export const MAX_CALLS_PER_PEER = 4;
const TIMEOUT_MS = 10_000;
const ADDRESS_HINT =
  'peers must be on public addresses; an admin can allow private ones with --peer-private-addresses allow (FLOTILLA_PEER_PRIVATE_ADDRESSES)';

export interface PeerClientOptions {
  /** Whether peers on loopback, private or link-local addresses may be called; asked at each connect. */
  allowPrivate: () => boolean;
  maxResponseBytes?: number;
  maxCallsPerPeer?: number;
}

/** A connection refused by the address policy; carried through undici as the socket's error. */
class PeerAddressError extends Error {
  readonly code = 'EPEERADDRESS';
  constructor(
    readonly host: string,
    readonly address: string,
    readonly kind: string,
  ) {
    super(`${host} resolves to ${address}, a ${kind.replace('_', '-')} address`);
  }
}

/** A peer answer bigger than the cap. */
class OversizedAnswerError extends Error {}

/** Sends to peers for one platform: one connection pool, the address policy, per-peer queues. */
export class PeerClient {
  readonly maxResponseBytes: number;
  readonly maxCallsPerPeer: number;
  private readonly agent: Agent;
  private readonly queues = new Map<string, PQueue>();

  constructor(private readonly opts: PeerClientOptions) {
    this.maxResponseBytes = opts.maxResponseBytes ?? MAX_PEER_RESPONSE_BYTES;
    this.maxCallsPerPeer = opts.maxCallsPerPeer ?? MAX_CALLS_PER_PEER;
    const connect = buildConnector({ lookup: this.guardedLookup, timeout: TIMEOUT_MS });
    this.agent = new Agent({
      headersTimeout: TIMEOUT_MS,
      bodyTimeout: TIMEOUT_MS,
      connect: (options, callback) => {
        // An IP literal is connected to without a lookup, so it is judged here.
        const host = options.hostname.replace(/^\[|\]$/g, '');
        const kind = isIP(host) === 0 ? null : classifyAddress(host);
        if (kind !== null && kind !== 'public' && !this.opts.allowPrivate()) {
          callback(new PeerAddressError(host, host, kind), null);
          return;
        }
        connect(options, callback);
      },
    });
  }

  /**
   * Refuses early, before anything is sent or stored, a peer URL whose host is (or resolves to) an address
   * the policy forbids. The connect-time check still applies to every later call.
   */
  async checkUrl(url: string): Promise<void> {
    if (this.opts.allowPrivate()) return;
    const parsed = new URL(url);
    let found: { address: string; kind: string } | null = null;
    const literal = classifyUrlHost(parsed);
    if (literal !== null) {
      if (literal !== 'public') found = { address: parsed.hostname, kind: literal };
    } else {
      const addresses = await new Promise<LookupAddress[]>((resolve, reject) =>
        dnsLookup(parsed.hostname, { all: true }, (err, list) => (err ? reject(err) : resolve(list))),
      ).catch((err: unknown) => {
        throw new InvalidInputError(`peer URL ${url}: ${parsed.hostname} does not resolve from this platform`, {
          cause: err,
          hint: 'give a URL whose name resolves to the peer’s public address',
        });
      });
      for (const { address } of addresses) {
        const kind = classifyAddress(address);
        if (kind !== null && kind !== 'public') found = { address, kind };
      }
    }
    if (found !== null) {
      throw new ForbiddenError(
        `peer URL ${url} leads to ${found.address}, a ${found.kind.replace('_', '-')} address this platform does not call`,
        { hint: ADDRESS_HINT, details: { address: found.address, address_class: found.kind } },
      );
    }
  }

  /** POSTs `body` as JSON to `path` under `baseUrl`, signed by `signer` at `now` when given. */
  async post(
    baseUrl: string,
    path: string,
    body: unknown,
    opts: { signer?: RequestSigner; now?: Date; nonce?: string } = {},
  ): Promise<PeerAnswer> {
    const url = new URL(path, baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
    const queue = this.queueFor(url.origin);
    try {
      return await queue.add(() => this.send(baseUrl, url, body, opts));
    } finally {
      if (queue.size === 0 && queue.pending === 0) this.queues.delete(url.origin);
    }
  }

  /** Closes the connection pool. */
  async close(): Promise<void> {
    await this.agent.close();
  }

  private queueFor(origin: string): PQueue {
    let queue = this.queues.get(origin);
    if (queue === undefined) {
      queue = new PQueue({ concurrency: this.maxCallsPerPeer });
      this.queues.set(origin, queue);
    }
    return queue;
  }

  private async send(
    baseUrl: string,
    url: URL,
    body: unknown,
    opts: { signer?: RequestSigner; now?: Date; nonce?: string },
  ): Promise<PeerAnswer> {
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
      // No redirect interceptor: a 3xx is an answer like any other, never followed.
      const res = await request(url, {
        dispatcher: this.agent,
        method: 'POST',
        headers: { 'content-type': 'application/json', ...signature },
        body: text,
      });
      const bytes = await this.readCapped(res.body, res.headers['content-length']);
      let json: unknown = null;
      try {
        json = bytes.length === 0 ? null : JSON.parse(bytes.toString('utf8'));
      } catch {
        json = null;
      }
      return { status: res.statusCode, json };
    } catch (err) {
      throw this.sendError(baseUrl, url, err);
    }
  }

  /** The body, at most maxResponseBytes; past that the request is aborted and nothing more is read. */
  private async readCapped(
    body: AsyncIterable<Buffer> & { destroy(err?: Error): unknown },
    contentLength: string | string[] | undefined,
  ): Promise<Buffer> {
    const limit = this.maxResponseBytes;
    if (typeof contentLength === 'string' && Number(contentLength) > limit) {
      body.destroy();
      throw new OversizedAnswerError();
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of body) {
      size += chunk.length;
      if (size > limit) {
        body.destroy();
        throw new OversizedAnswerError();
      }
      chunks.push(chunk);
    }
    return Buffer.concat(chunks);
  }

  private sendError(baseUrl: string, url: URL, err: unknown): FlotillaError {
    if (err instanceof FlotillaError) return err;
    if (err instanceof OversizedAnswerError) {
      return new UnavailableError(
        `peer at ${baseUrl} answered ${url.pathname} with more than ${this.maxResponseBytes} bytes; the answer was dropped`,
        {
          hint: 'the peer is misbehaving or is not a Flotilla platform; check its URL and ask its operator',
          details: { limit_bytes: this.maxResponseBytes },
        },
      );
    }
    const refused = findCause(err, PeerAddressError);
    if (refused !== null) {
      return new ForbiddenError(`peer at ${baseUrl} was not called: ${refused.message} this platform does not call`, {
        cause: err,
        hint: ADDRESS_HINT,
        details: { address: refused.address, address_class: refused.kind },
      });
    }
    return new UnavailableError(`peer at ${baseUrl} is unreachable: ${(err as Error).message}`, {
      cause: err,
      hint: 'check the URL and that the peer is running and reachable from this platform',
    });
  }

  /** dns.lookup, keeping only the addresses the policy allows; none left refuses the connection. */
  private readonly guardedLookup: LookupFunction = (hostname, options: LookupOptions, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) {
        callback(err, '', 0);
        return;
      }
      const allowPrivate = this.opts.allowPrivate();
      const allowed = addresses.filter((a) => allowPrivate || classifyAddress(a.address) === 'public');
      if (allowed.length === 0) {
        const first = addresses[0];
        const kind = first === undefined ? 'unknown' : (classifyAddress(first.address) ?? 'unknown');
        callback(new PeerAddressError(hostname, first?.address ?? '(none)', kind), '', 0);
        return;
      }
      if (options.all === true) callback(null, allowed);
      else callback(null, allowed[0]!.address, allowed[0]!.family);
    });
  };
}

function findCause<T extends Error>(err: unknown, type: new (...args: never[]) => T): T | null {
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 5; depth += 1) {
    if (e instanceof type) return e;
    e = (e as { cause?: unknown }).cause;
  }
  return null;
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
