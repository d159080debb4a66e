// The HTTP listener: a tiny prefix router over node:http. Routes come from the composition root;
// this module knows nothing of MCP, agents or peers beyond their handlers.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
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
}): Promise<HttpListener> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://flotilla.invalid');
    const route = opts.routes.find((r) => matches(r, url.pathname));
    if (route === undefined) {
      sendJson(res, 404, { error: { code: 'not_found', message: `no route ${url.pathname}` } });
      return;
    }
    route.handle(req, res, url).catch((err: unknown) => {
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
  });
  server.keepAliveTimeout = 65_000;
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
