// The HTTP listener: a tiny prefix router over node:http. Routes come from the composition root;
// this module knows nothing of MCP, agents or peers beyond their handlers.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { ConflictError, InvalidInputError } from '../errors.js';
import { dataErrorReason, isDataError } from '../store/errors.js';
import { sendJson } from './io.js';

export interface Route {
  /** Exact path, or a prefix ending in '/'. */
  path: string;
  handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void>;
}

export interface HttpListener {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** How long a client may take; a slow or stalled client is cut rather than holding a connection. */
export interface HttpTimeouts {
  /** From connection (or the end of the previous request) until the request's headers are in. */
  headersMs: number;
  /** Until the whole request, headers and body, is in. A response still being sent (an SSE stream) is not cut. */
  requestMs: number;
  /** An idle keep-alive connection is closed after this; above the usual 60 s of load balancers. */
  keepAliveMs: number;
  /** How often the two timeouts above are checked; a client is cut up to this much later. */
  checkIntervalMs: number;
}

/** Defaults: generous for a person on a slow link, short enough that stalled clients are let go. */
export const DEFAULT_HTTP_TIMEOUTS: HttpTimeouts = {
  headersMs: 10_000,
  requestMs: 30_000,
  keepAliveMs: 65_000,
  checkIntervalMs: 1_000,
};

/** Errors that mean the client went away or was cut for being slow: routine, not a fault of ours. */
const CLIENT_GONE_CODES = new Set(['ECONNRESET', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE', 'ERR_HTTP_REQUEST_TIMEOUT']);

function clientWentAway(err: unknown, req: IncomingMessage): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return req.destroyed || req.socket.destroyed || (code !== undefined && CLIENT_GONE_CODES.has(code));
}

function clientErrorStatus(code: string | undefined): string {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return '408 Request Timeout';
  if (code === 'HPE_HEADER_OVERFLOW') return '431 Request Header Fields Too Large';
  return '400 Bad Request';
}

function matches(route: Route, pathname: string): boolean {
  return route.path.endsWith('/') ? pathname.startsWith(route.path) : pathname === route.path;
}

/** A port or address that cannot be bound is a setting to change: said in one line, not a stack. */
function listenError(err: NodeJS.ErrnoException, host: string, port: number): Error {
  const options = { cause: err, details: { host, port } };
  switch (err.code) {
    case 'EADDRINUSE':
      return new ConflictError(`port ${port} on ${host} is already in use`, {
        ...options,
        hint: 'stop what holds it, or pick another port with --port / FLOTILLA_PORT (0 picks a free one)',
      });
    case 'EACCES':
      return new InvalidInputError(`not allowed to listen on port ${port} on ${host}`, {
        ...options,
        hint: 'pick a port above 1023 with --port / FLOTILLA_PORT (0 picks a free one)',
      });
    case 'EADDRNOTAVAIL':
      return new InvalidInputError(`cannot listen on ${host}: no such address on this machine`, {
        ...options,
        hint: 'pick a local address with --host / FLOTILLA_HOST (127.0.0.1 or 0.0.0.0)',
      });
    default:
      return err;
  }
}

export async function startHttpListener(opts: {
  host: string;
  port: number;
  routes: Route[];
  logger: Logger;
  timeouts?: Partial<HttpTimeouts> | undefined;
}): Promise<HttpListener> {
  const timeouts = { ...DEFAULT_HTTP_TIMEOUTS, ...opts.timeouts };
  // The latest response on each socket: a client error must not write a status line into one under way.
  const responses = new WeakMap<Duplex, ServerResponse>();
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    responses.set(req.socket, res);
    const url = new URL(req.url ?? '/', 'http://flotilla.invalid');
    const route = opts.routes.find((r) => matches(r, url.pathname));
    if (route === undefined) {
      sendJson(res, 404, { error: { code: 'not_found', message: `no route ${url.pathname}` } });
      return;
    }
    route.handle(req, res, url).catch((err: unknown) => {
      if (clientWentAway(err, req)) {
        const code = (err as NodeJS.ErrnoException | null)?.code;
        opts.logger.debug({ path: url.pathname, code }, 'http client went away before its request was answered');
        return;
      }
      // A value the store refused (SQLSTATE class 22) is the caller's bad input, not a failure of ours.
      if (isDataError(err) && !res.headersSent) {
        opts.logger.warn({ err: { message: (err as Error).message }, path: url.pathname }, 'store refused a value');
        const message = `a value cannot be stored: ${dataErrorReason(err)}`;
        sendJson(res, 400, { error: { code: 'invalid_input', message } });
        return;
      }
      opts.logger.error({ err, path: url.pathname }, 'http handler failed');
      if (!res.headersSent)
        sendJson(res, 500, { error: { code: 'internal', message: 'internal error; it has been logged' } });
      else res.end();
    });
  };
  const server = http.createServer(
    {
      headersTimeout: timeouts.headersMs,
      requestTimeout: timeouts.requestMs,
      keepAliveTimeout: timeouts.keepAliveMs,
      connectionsCheckingInterval: timeouts.checkIntervalMs,
    },
    handler,
  );
  // A timed-out, malformed or reset request is the client's doing: a debug line without a stack, then
  // what node itself would answer (408/431/400) unless a response is already under way on the socket.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    opts.logger.debug({ code: err.code, reason: err.message }, 'http client error; connection closed');
    const res = responses.get(socket);
    const answering = res !== undefined && res.headersSent && !res.writableEnded;
    if (err.code === 'ECONNRESET' || !socket.writable || answering) {
      socket.destroy();
      return;
    }
    socket.end(`HTTP/1.1 ${clientErrorStatus(err.code)}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  });
  await new Promise<void>((resolve, reject) => {
    const refused = (err: NodeJS.ErrnoException): void => reject(listenError(err, opts.host, opts.port));
    server.once('error', refused);
    server.listen(opts.port, opts.host, () => {
      server.off('error', refused);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const hostForUrl = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    url: `http://${hostForUrl}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
