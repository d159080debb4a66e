// /mcp: Host/Origin checks, bearer authentication, then MCP Streamable HTTP for that operator.
import type { Route } from './server.js';
import { FlotillaError } from '../errors.js';
import { handleMcpHttp, type McpHttpDeps } from '../mcp/http-transport.js';
import { isConnectionError } from '../store/errors.js';
import { checkHostAndOrigin, type ListenerIdentity } from './host-check.js';
import { bearerToken, BodyError, readJsonBody, sendJson } from './io.js';

export function mcpRoute(deps: McpHttpDeps, listener: () => ListenerIdentity): Route {
  return {
    path: '/mcp',
    async handle(req, res) {
      const refusal = checkHostAndOrigin({ host: req.headers.host, origin: req.headers.origin }, listener());
      if (refusal !== null) {
        sendJson(res, 403, { error: { code: 'forbidden', message: refusal } });
        return;
      }
      const token = bearerToken(req);
      if (token === null) {
        sendJson(
          res,
          401,
          { error: { code: 'unauthorized', message: 'missing Authorization: Bearer <operator token>' } },
          { 'www-authenticate': 'Bearer realm="flotilla"' },
        );
        return;
      }
      let caller;
      try {
        caller = await deps.services.operators.authenticate(token);
      } catch (err) {
        if (err instanceof FlotillaError && err.code === 'unauthorized') {
          sendJson(
            res,
            401,
            { error: { code: 'unauthorized', message: err.message } },
            { 'www-authenticate': 'Bearer error="invalid_token"' },
          );
          return;
        }
        if (isConnectionError(err)) {
          sendJson(
            res,
            503,
            { error: { code: 'unavailable', message: 'the store is unreachable right now; retry shortly' } },
            { 'retry-after': '2' },
          );
          return;
        }
        throw err;
      }
      let body: unknown;
      if (req.method === 'POST') {
        try {
          body = await readJsonBody(req);
        } catch (err) {
          if (!(err instanceof BodyError)) throw err;
          sendJson(res, err.status, { jsonrpc: '2.0', id: null, error: { code: -32700, message: err.message } });
          return;
        }
      }
      await handleMcpHttp(req, res, body, caller, deps);
    },
  };
}
