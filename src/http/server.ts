// The HTTP listener: a tiny prefix router over node:http. Routes come from the composition root;
// this module knows nothing of MCP, agents or peers beyond their handlers.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
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
      opts.logger.error({ err, path: url.pathname }, 'http handler failed');
      if (!res.headersSent)
        sendJson(res, 500, { error: { code: 'internal', message: 'internal error; it has been logged' } });
      else res.end();
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
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
