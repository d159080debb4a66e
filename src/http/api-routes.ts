// The REST adapter under /api/v1: each endpoint is one entry mapping a method and path to an MCP tool,
// run through the same runner (role check, strict input, output check) as tools/call, for an operator
// authenticated by a Bearer token. JSON answers are the tool's structured output; errors `{ error }`.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Caller } from '../domain/roles.js';
import { FlotillaError, HTTP_STATUS, toPublicError, type ErrorCode, type PublicError } from '../errors.js';
import type { AnyTool } from '../mcp/define-tool.js';
import type { Services } from '../services/index.js';
import { dataErrorAsInvalidInput, runTool } from '../mcp/tool-runner.js';
import { isConnectionError, isDataError } from '../store/errors.js';
import { bearerToken, BodyError, readJsonBody, sendJson } from './io.js';
import type { Route } from './server.js';

export type ApiMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** One REST endpoint: the tool it runs and where that tool's input comes from. */
export interface ApiEndpoint {
  method: ApiMethod;
  /** Under /api/v1/; a `:name` segment captures one path segment. */
  path: string;
  tool: string;
  /** Path captures → tool input fields (`{ id: 'federation_peer_id' }`). */
  params?: Readonly<Record<string, string>>;
  /** Query parameters accepted and their types; any other is refused by name. */
  query?: Readonly<Record<string, 'string' | 'integer'>>;
  /** true: the JSON object body's fields are the rest of the tool's input. */
  body?: boolean;
}

/** The endpoints served; another is one more entry (its tool must be in the catalog). */
export const API_ENDPOINTS: readonly ApiEndpoint[] = [
  { method: 'POST', path: '/api/v1/federation/children/spawn', tool: 'spawn_child_platform', body: true },
  {
    method: 'GET',
    path: '/api/v1/federation/peers/:id/audit_log',
    tool: 'get_audit_log',
    params: { id: 'federation_peer_id' },
    query: { cursor: 'string', limit: 'integer' },
  },
  {
    method: 'GET',
    path: '/api/v1/federation/peers/:id/data_residency',
    tool: 'get_data_residency',
    params: { id: 'federation_peer_id' },
  },
  {
    method: 'PUT',
    path: '/api/v1/federation/peers/:id/data_residency',
    tool: 'set_data_residency',
    params: { id: 'federation_peer_id' },
    body: true,
  },
];

/** The HTTP status of each error code. */
export const API_ERROR_STATUS = HTTP_STATUS;

const BODY_LIMIT_BYTES = 65_536;
const NO_STORE = { 'cache-control': 'no-store' };

/** A path's captures when `pattern` matches it, else null. */
export function matchPath(pattern: string, pathname: string): Record<string, string> | null {
  const want = pattern.split('/');
  const got = pathname.split('/');
  if (want.length !== got.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    const g = got[i]!;
    if (w.startsWith(':')) {
      if (g === '') return null;
      try {
        params[w.slice(1)] = decodeURIComponent(g);
      } catch {
        return null;
      }
    } else if (w !== g) return null;
  }
  return params;
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly error: PublicError,
    readonly headers: Record<string, string> = {},
  ) {
    super(error.message);
  }
}

const refuse = (status: number, code: ErrorCode, message: string, hint?: string, headers?: Record<string, string>) =>
  new ApiError(status, { code, message, ...(hint === undefined ? {} : { hint }) }, headers);

function queryInput(endpoint: ApiEndpoint, query: URLSearchParams): Record<string, unknown> {
  const spec = endpoint.query ?? {};
  const out: Record<string, unknown> = {};
  for (const name of new Set(query.keys())) {
    const type = spec[name];
    if (type === undefined) {
      const accepted = Object.keys(spec);
      throw refuse(
        400,
        'invalid_input',
        `unknown query parameter "${name}"`,
        accepted.length === 0 ? 'this endpoint takes no query parameters' : `accepted: ${accepted.join(', ')}`,
      );
    }
    const values = query.getAll(name);
    if (values.length > 1) throw refuse(400, 'invalid_input', `query parameter "${name}" given more than once`);
    const value = values[0]!;
    // A non-integer is passed on as text so the tool's validation names the field and the problem.
    out[name] = type === 'integer' && /^-?\d{1,15}$/.test(value) ? Number(value) : value;
  }
  return out;
}

async function bodyInput(endpoint: ApiEndpoint, req: IncomingMessage): Promise<Record<string, unknown>> {
  if (endpoint.body !== true) return {};
  const type = req.headers['content-type'];
  if (type !== undefined && !/^application\/json\s*(;|$)/i.test(type)) {
    throw refuse(415, 'invalid_input', `content-type ${type} is not accepted`, 'send the body as application/json');
  }
  let body: unknown;
  try {
    body = await readJsonBody(req, BODY_LIMIT_BYTES);
  } catch (err) {
    if (err instanceof BodyError) throw refuse(err.status, 'invalid_input', err.message);
    throw err;
  }
  if (body === undefined) return {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw refuse(400, 'invalid_input', 'request body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

export function apiRoutes(deps: {
  tools: readonly AnyTool[];
  services: Services;
  logger: Logger;
  endpoints?: readonly ApiEndpoint[];
}): Route {
  const endpoints = (deps.endpoints ?? API_ENDPOINTS).map((endpoint) => {
    const tool = deps.tools.find((t) => t.name === endpoint.tool);
    if (tool === undefined)
      throw new Error(`REST endpoint ${endpoint.method} ${endpoint.path} names no tool ${endpoint.tool}`);
    return { endpoint, tool };
  });

  async function authenticate(req: IncomingMessage): Promise<Caller> {
    const token = bearerToken(req);
    if (token === null) {
      throw refuse(401, 'unauthorized', 'missing Authorization: Bearer <operator token>', undefined, {
        'www-authenticate': 'Bearer realm="flotilla"',
      });
    }
    try {
      return await deps.services.operators.authenticate(token);
    } catch (err) {
      if (err instanceof FlotillaError && err.code === 'unauthorized') {
        throw refuse(401, 'unauthorized', err.message, err.hint, {
          'www-authenticate': 'Bearer realm="flotilla", error="invalid_token"',
        });
      }
      throw err;
    }
  }

  async function serve(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const matching = endpoints
      .map((e) => ({ ...e, params: matchPath(e.endpoint.path, url.pathname) }))
      .filter((e) => e.params !== null);
    if (matching.length === 0) throw refuse(404, 'not_found', `no API endpoint ${url.pathname}`);
    const hit = matching.find((e) => e.endpoint.method === req.method);
    if (hit === undefined) {
      const allow = matching.map((e) => e.endpoint.method).join(', ');
      throw refuse(405, 'invalid_input', `${req.method} is not allowed on ${url.pathname}; use ${allow}`, undefined, {
        allow,
      });
    }
    const caller = await authenticate(req);
    const { endpoint, tool } = hit;
    const input: Record<string, unknown> = {
      ...(await bodyInput(endpoint, req)),
      ...queryInput(endpoint, url.searchParams),
    };
    for (const [capture, field] of Object.entries(endpoint.params ?? {})) {
      if (field in input) {
        throw refuse(400, 'invalid_input', `"${field}" comes from the path; leave it out of the body and query`);
      }
      input[field] = hit.params![capture];
    }
    const outcome = await runTool(tool, input, { services: deps.services, caller, logger: deps.logger });
    if (outcome.ok) sendJson(res, 200, outcome.output, NO_STORE);
    else sendJson(res, API_ERROR_STATUS[outcome.error.code] ?? 500, { error: outcome.error }, NO_STORE);
  }

  return {
    path: '/api/v1/',
    async handle(req, res, url) {
      try {
        await serve(req, res, url);
      } catch (err) {
        if (err instanceof ApiError) {
          sendJson(res, err.status, { error: err.error }, { ...NO_STORE, ...err.headers });
        } else if (isDataError(err)) {
          sendJson(res, 400, { error: toPublicError(dataErrorAsInvalidInput(err)) }, NO_STORE);
        } else if (isConnectionError(err)) {
          sendJson(
            res,
            503,
            { error: { code: 'unavailable', message: 'the store is unreachable right now; retry shortly' } },
            { ...NO_STORE, 'retry-after': '2' },
          );
        } else {
          throw err;
        }
      }
    },
  };
}
