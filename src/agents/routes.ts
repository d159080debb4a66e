// The agent API under /agents/v1: enroll with an enrollment token, heartbeat with the agent token and
// receive desired versions (pull model), look up a version's digest. Bad input writes nothing.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { parseHeartbeat } from '../domain/fleet.js';
import { digestSchema, instanceNameSchema, labelsSchema, moduleNameSchema, regionSchema } from '../domain/names.js';
import { FlotillaError } from '../errors.js';
import { bearerToken, BodyError, readJsonBody, sendJson, sendJsonText } from '../http/io.js';
import type { Route } from '../http/server.js';
import type { FleetService } from '../services/fleet-service.js';
import type { HeartbeatIngestor } from '../services/heartbeat-ingestor.js';
import { safeText, unstorableTextReason } from '../domain/text.js';
import { dataErrorReason, isConnectionError, isDataError } from '../store/errors.js';
import type { DesiredWire, HeartbeatAck } from '../store/heartbeat-repository.js';
import type { Logger } from 'pino';

const enrollBody = z.strictObject({
  enrollment_token: safeText({ min: 1, max: 200 }),
  name: instanceNameSchema,
  region: regionSchema.optional(),
  labels: labelsSchema.optional(),
  running_module_digests: z.record(moduleNameSchema, digestSchema).optional(),
});

function badRequest(res: ServerResponse, field: string, message: string): void {
  sendJson(res, 400, { error: { code: 'invalid_input', field, message: `${field}: ${message}` } });
}

/** A percent-encoded path segment decoded, or null when its escapes are not valid UTF-8. */
function pathSegment(encoded: string): string | null {
  try {
    return decodeURIComponent(encoded);
  } catch {
    return null;
  }
}

function unauthorized(res: ServerResponse, message: string): void {
  sendJson(
    res,
    401,
    { error: { code: 'unauthorized', message } },
    { 'www-authenticate': 'Bearer realm="flotilla-agents"' },
  );
}

async function body(req: IncomingMessage, res: ServerResponse): Promise<{ ok: true; value: unknown } | { ok: false }> {
  try {
    return { ok: true, value: await readJsonBody(req, 65_536) };
  } catch (err) {
    if (!(err instanceof BodyError)) throw err;
    sendJson(res, err.status, { error: { code: 'invalid_input', field: 'body', message: err.message } });
    return { ok: false };
  }
}

export function agentRoutes(deps: { fleet: FleetService; ingestor: HeartbeatIngestor; logger: Logger }): Route {
  const { fleet, ingestor } = deps;
  const interval = fleet.heartbeatIntervalMs;

  async function enroll(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const b = await body(req, res);
    if (!b.ok) return;
    const parsed = enrollBody.safeParse(b.value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : issue.path.join('.') || 'body';
      badRequest(res, field, issue.code === 'unrecognized_keys' ? 'unknown field' : issue.message);
      return;
    }
    const input = parsed.data;
    const result = await fleet.enroll(input.enrollment_token, {
      name: input.name,
      ...(input.region === undefined ? {} : { region: input.region }),
      ...(input.labels === undefined ? {} : { labels: input.labels }),
      ...(input.running_module_digests === undefined ? {} : { runningModuleDigests: input.running_module_digests }),
    });
    sendJson(res, result.created ? 201 : 200, {
      instance_id: result.instanceId,
      agent_token: result.agentToken,
      group: { id: result.group.id, name: result.group.name },
      heartbeat_interval_ms: interval,
    });
  }

  async function heartbeat(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const token = bearerToken(req);
    if (token === null) return unauthorized(res, 'missing Authorization: Bearer <agent token>');
    const b = await body(req, res);
    if (!b.ok) return;
    const parsed = parseHeartbeat(b.value);
    if (!parsed.ok) return badRequest(res, parsed.field, parsed.message);
    const ack = await ingestor.submit(token, parsed.value);
    if (ack === null) return unauthorized(res, 'agent token is unknown or revoked, or its instance was terminated');
    sendJsonText(res, 200, heartbeatAnswer(ack));
  }

  // The answer is `{ instance_id, desired_module_versions, heartbeat_interval_ms }`. Acks told the same
  // versions share one array, so its JSON is written once per batch rather than once per agent.
  const desiredJson = new WeakMap<readonly DesiredWire[], string>();
  const intervalJson = JSON.stringify(interval);
  function heartbeatAnswer(ack: HeartbeatAck): string {
    let desired = desiredJson.get(ack.desired);
    if (desired === undefined) {
      desired = JSON.stringify(ack.desired);
      desiredJson.set(ack.desired, desired);
    }
    return `{"instance_id":${JSON.stringify(ack.instanceId)},"desired_module_versions":${desired},"heartbeat_interval_ms":${intervalJson}}`;
  }

  async function version(
    req: IncomingMessage,
    res: ServerResponse,
    moduleName: string,
    versionRef: string,
  ): Promise<void> {
    const token = bearerToken(req);
    if (token === null) return unauthorized(res, 'missing Authorization: Bearer <agent token>');
    const { version: v } = await fleet.agentLookupVersion(token, moduleName, versionRef);
    sendJson(res, 200, {
      module_name: v.moduleName,
      version: v.version,
      version_id: v.id,
      digest: v.digest,
      lifecycle_state: v.lifecycleState,
    });
  }

  return {
    path: '/agents/v1/',
    async handle(req, res, url) {
      try {
        if (req.method === 'POST' && url.pathname === '/agents/v1/heartbeat') return await heartbeat(req, res);
        if (req.method === 'POST' && url.pathname === '/agents/v1/enroll') return await enroll(req, res);
        const m = /^\/agents\/v1\/versions\/([^/]+)\/([^/]+)$/.exec(url.pathname);
        if (req.method === 'GET' && m !== null) {
          const moduleName = pathSegment(m[1]!);
          if (moduleName === null || !moduleNameSchema.safeParse(moduleName).success) {
            return badRequest(res, 'module_name', 'not a module name (lowercase letters, digits, ".", "_" or "-")');
          }
          const versionRef = pathSegment(m[2]!);
          const unstorable =
            versionRef === null ? 'not a percent-encoded UTF-8 segment' : unstorableTextReason(versionRef);
          if (versionRef === null || unstorable !== null || versionRef.length > 200) {
            return badRequest(res, 'version', unstorable ?? 'a version string or id of at most 200 characters');
          }
          return await version(req, res, moduleName, versionRef);
        }
        sendJson(res, 404, { error: { code: 'not_found', message: `no agent route ${req.method} ${url.pathname}` } });
      } catch (err) {
        if (err instanceof FlotillaError) {
          const status =
            { unauthorized: 401, not_found: 404, invalid_input: 400, conflict: 409, forbidden: 403 }[
              err.code as string
            ] ?? 500;
          sendJson(res, status, {
            error: { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) },
          });
          return;
        }
        if (isDataError(err)) {
          deps.logger.warn({ err: { message: (err as Error).message } }, 'agent request refused by the store');
          return badRequest(res, 'body', dataErrorReason(err));
        }
        if (isConnectionError(err)) {
          sendJson(
            res,
            503,
            { error: { code: 'unavailable', message: 'store unreachable; retry with backoff' } },
            { 'retry-after': '1' },
          );
          return;
        }
        throw err;
      }
    },
  };
}
