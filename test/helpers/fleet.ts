// Fleet helpers for tests: the agent API over real HTTP (undici), enrollment tokens and versions set up
// through real MCP tools, row counts read from the real store, and deadline-bound waits (never sleeps).
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { sql, type Kysely } from 'kysely';
import { request } from 'undici';
import type { Database } from '../../src/store/database.js';
import { call, type TestPlatform } from './app.js';

/** A well-formed digest made of one repeated hex character. */
export const digest = (c: string): string => `sha256:${c.repeat(64).slice(0, 64)}`;

export interface AgentReply {
  status: number;
  json: Record<string, unknown>;
}

/** Sends `body` (an object as JSON, or a string as is) to the agent API; the reply parsed as JSON. */
export async function agentCall(
  baseUrl: string,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  token?: string,
): Promise<AgentReply> {
  const res = await request(new URL(path, baseUrl), {
    method,
    headers: {
      'content-type': 'application/json',
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.body.text();
  return { status: res.statusCode, json: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

export interface Enrolled {
  instance_id: string;
  agent_token: string;
  group: { id: string; name: string };
  heartbeat_interval_ms: number;
}

/** Enrolls an agent and fails the test unless the platform accepts it. */
export async function enroll(
  baseUrl: string,
  enrollmentToken: string,
  name: string,
  extra: Record<string, unknown> = {},
): Promise<Enrolled> {
  const res = await agentCall(baseUrl, 'POST', '/agents/v1/enroll', {
    enrollment_token: enrollmentToken,
    name,
    ...extra,
  });
  if (res.status !== 201 && res.status !== 200)
    throw new Error(`enroll ${name}: HTTP ${res.status} ${JSON.stringify(res.json)}`);
  return res.json as unknown as Enrolled;
}

export function heartbeat(
  baseUrl: string,
  agentToken: string | undefined,
  body: unknown = { running_module_digests: {}, health: 'ok' },
): Promise<AgentReply> {
  return agentCall(baseUrl, 'POST', '/agents/v1/heartbeat', body, agentToken);
}

/** Creates an enrollment token for a group through the tool; returns the token and its id. */
export async function enrollmentTokenFor(
  client: Client,
  group: string,
  extra: Record<string, unknown> = {},
): Promise<{ token: string; id: string; groupId: string }> {
  const res = await call(client, 'create_enrollment_token', { group, ...extra });
  if (res.isError) throw new Error(`create_enrollment_token ${group}: ${JSON.stringify(res.error)}`);
  return {
    token: res.data.token as string,
    id: res.data.enrollment_token_id as string,
    groupId: (res.data.group as { id: string }).id,
  };
}

/** Enrolls `n` agents of `group` on `p` over HTTP (named `${group}-0`, `${group}-1`, ...), all online. */
export async function enrollInstances(p: TestPlatform, group: string, n: number): Promise<Enrolled[]> {
  const { token } = await enrollmentTokenFor(await p.memoryClient(), group);
  const enrolled: Enrolled[] = [];
  for (let i = 0; i < n; i += 1) enrolled.push(await enroll(p.app.http!.url, token, `${group}-${i}`));
  return enrolled;
}

/** Ids of the instances in `db` whose effective desired version of `moduleName` is `version`, in id order. */
export async function instancesAssigned(db: Kysely<Database>, moduleName: string, version: string): Promise<string[]> {
  const rows = await db
    .selectFrom('instance_effective_versions')
    .select('instance_id')
    .where('module_name', '=', moduleName)
    .where('version', '=', version)
    .orderBy('instance_id')
    .execute();
  return rows.map((r) => r.instance_id);
}

/** Publishes a module version through the tool; returns its id. */
export async function publish(
  client: Client,
  moduleName: string,
  version: string,
  versionDigest: string,
  draft = false,
): Promise<string> {
  const res = await call(client, 'publish_module_version', {
    module_name: moduleName,
    version,
    digest: versionDigest,
    ...(draft ? { draft: true } : {}),
  });
  if (res.isError) throw new Error(`publish ${moduleName} ${version}: ${JSON.stringify(res.error)}`);
  return (res.data.version as { id: string }).id;
}

export async function countRows(db: Kysely<Database>, table: 'instances' | 'events' | 'groups'): Promise<number> {
  const r = await sql<{ n: string }>`SELECT count(*) AS n FROM ${sql.table(table)}`.execute(db);
  return Number(r.rows[0]!.n);
}

export async function countEvents(db: Kysely<Database>, kind: string): Promise<number> {
  const r = await sql<{ n: string }>`SELECT count(*) AS n FROM events WHERE kind = ${kind}`.execute(db);
  return Number(r.rows[0]!.n);
}

/** Polls `check` every 20 ms until it returns a value other than undefined/false, or throws at the deadline. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last === undefined ? '' : `: ${String(last)}`}`,
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface InstanceView {
  id: string;
  name: string;
  group_id: string;
  group: string;
  status: string;
  health: string;
  running_module_digests: Record<string, string>;
  last_heartbeat_at: string | null;
  [key: string]: unknown;
}

/** Every instance list_instances returns for `args`, following next_cursor to the last page. */
export async function listAllInstances(client: Client, args: Record<string, unknown> = {}): Promise<InstanceView[]> {
  const out: InstanceView[] = [];
  let cursor: string | null = null;
  do {
    const res = await call(client, 'list_instances', { ...args, limit: 500, ...(cursor === null ? {} : { cursor }) });
    if (res.isError) throw new Error(`list_instances: ${JSON.stringify(res.error)}`);
    out.push(...(res.data.instances as InstanceView[]));
    cursor = res.data.next_cursor as string | null;
  } while (cursor !== null);
  return out;
}
