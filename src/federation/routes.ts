// The peer API under /federation/v1: accept (unsigned; the acceptance token is the credential), then
// signed activate and revoke. Handlers read the exact body bytes so signatures verify over them; the
// decisions are the peer protocol service's.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { unstorableValueReason } from '../domain/text.js';
import { FlotillaError, HTTP_STATUS, InvalidInputError } from '../errors.js';
import { BodyError, sendJson } from '../http/io.js';
import type { Route } from '../http/server.js';
import { acceptInputError, acceptRequestSchema, type PeerProtocol } from '../services/peer-protocol.js';
import type { PeerCalls } from '../services/peer-calls.js';
import { isConnectionError } from '../store/errors.js';

/** The exact body bytes, at most `limitBytes`: signatures verify over these. */
async function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limitBytes) throw new BodyError(413, `request body exceeds ${limitBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function parseJsonBody(bytes: Buffer): unknown {
  if (bytes.length === 0) return undefined;
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new BodyError(400, 'request body is not valid JSON');
  }
}

const CALLS_PREFIX = '/federation/v1/calls/';

export function federationRoutes(deps: { protocol: PeerProtocol; calls: PeerCalls; logger: Logger }): Route {
  const { protocol, calls } = deps;

  async function accept(body: Buffer, res: ServerResponse): Promise<void> {
    const parsed = acceptRequestSchema.safeParse(parseJsonBody(body));
    if (!parsed.success) throw acceptInputError(parsed.error);
    const unstorable = unstorableValueReason(parsed.data);
    if (unstorable !== null) throw new InvalidInputError(unstorable, { hint: 'nothing was changed' });
    sendJson(res, 200, await protocol.accept(parsed.data));
  }

  function signed(req: IncomingMessage, url: URL, body: Buffer) {
    return {
      method: req.method ?? 'POST',
      authority: req.headers.host ?? '',
      target: `${url.pathname}${url.search}`,
      body,
      headers: req.headers,
    };
  }

  return {
    path: '/federation/v1/',
    async handle(req, res, url) {
      try {
        if (req.method !== 'POST') {
          sendJson(res, 405, { error: { code: 'invalid_input', message: `${req.method} is not allowed; use POST` } });
          return;
        }
        const body = await readBody(req, 65_536);
        switch (url.pathname) {
          case '/federation/v1/accept':
            return await accept(body, res);
          case '/federation/v1/activate': {
            const peer = await protocol.activate(signed(req, url, body));
            return sendJson(res, 200, { status: peer.status });
          }
          case '/federation/v1/revoke': {
            const peer = await protocol.revoke(signed(req, url, body));
            return sendJson(res, 200, { status: peer.status });
          }
          default:
            if (url.pathname.startsWith(CALLS_PREFIX)) {
              const answer = await calls.handleInbound(url.pathname.slice(CALLS_PREFIX.length), signed(req, url, body));
              return sendJson(res, 200, answer ?? {});
            }
            sendJson(res, 404, { error: { code: 'not_found', message: `no federation route ${url.pathname}` } });
        }
      } catch (err) {
        if (err instanceof BodyError) {
          sendJson(res, err.status, { error: { code: 'invalid_input', message: err.message } });
        } else if (err instanceof FlotillaError) {
          sendJson(
            res,
            HTTP_STATUS[err.code],
            {
              error: {
                code: err.code,
                message: err.message,
                ...(err.hint === undefined ? {} : { hint: err.hint }),
                ...(err.details === undefined ? {} : { details: err.details }),
              },
            },
            err.code === 'unauthorized' ? { 'www-authenticate': 'Signature realm="flotilla-federation"' } : {},
          );
        } else if (isConnectionError(err)) {
          sendJson(res, 503, { error: { code: 'unavailable', message: 'store unreachable; retry with backoff' } });
        } else {
          throw err;
        }
      }
    },
  };
}
