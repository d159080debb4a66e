// Fuzz of every input surface: each tool tools/list publishes (execute_skill with each skill's schema),
// the manifest tools with every field of examples/fleet.yaml, MCP resources, every REST endpoint and
// every agent route over loopback HTTP. One bad value at a time (NUL, lone surrogates, numbers out of
// range, cursors no list issued, impossible dates, bad percent-escapes), the rest plausible: the answer
// is invalid_input / 4xx, never internal / 5xx, and no table changes. Seeded: reruns are identical.
import fs from 'node:fs';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { request } from 'undici';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_ENDPOINTS } from '../../src/http/api-routes.js';
import { strictInput } from '../../src/mcp/tool-runner.js';
import { TOOLS } from '../../tools/index.js';
import { call, startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { insertTestPeer } from '../helpers/federation.js';
import { digest, enroll, enrollmentTokenFor, publish, type Enrolled } from '../helpers/fleet.js';
import {
  mutationsOf,
  plausibleObject,
  seededRandom,
  tablesDigest,
  unstorableStrings,
  withValue,
  type JsonSchema,
  type Mutation,
} from '../helpers/fuzz.js';

const SEED = 13;
/** Path segments and query values that no route may answer with a 5xx. */
const BAD_SEGMENTS = ['%00', 'a%00b', '%ED%A0%80', '%E0%A4%A', '%', '%ZZ', '%C0%AF', 'a%F0%9F'];

interface HttpReply {
  status: number;
  body: string;
}

async function http(url: string, method: string, path: string, token?: string, body?: string): Promise<HttpReply> {
  const res = await request(new URL(path, url), {
    method: method as 'GET',
    headers: {
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body }),
  });
  return { status: res.statusCode, body: await res.body.text() };
}

describe('fuzz: bad input anywhere is refused as invalid input and changes nothing', () => {
  let platform: TestPlatform;
  let admin: Client;
  let url: string;
  let agent: Enrolled;
  const random = seededRandom(SEED);

  beforeAll(async () => {
    platform = await startTestPlatform('pglite');
    admin = await platform.memoryClient();
    url = platform.app.http!.url;
    // Plausible names resolve: a module, version, group, instance and peer all called fuzz-a.
    await publish(admin, 'fuzz-a', '1.0.0', digest('a'));
    const t = await enrollmentTokenFor(admin, 'fuzz-a');
    agent = await enroll(url, t.token, 'fuzz-a');
    await insertTestPeer(platform.store.db, 'fuzz-a');
  });
  afterAll(() => platform.close());

  /**
   * What one bad call answered, when it is not what it must be. A cursor is read after what it pages
   * is found, so a cursor for a rollout no one started may be answered not_found.
   */
  function judge(where: string, m: Mutation, code: string | undefined): string | null {
    const refused = code === 'invalid_input' || (m.field === 'cursor' && code === 'not_found');
    if (m.strict && !refused) return `${where} ${m.field} (${m.label}): ${code ?? 'accepted'}`;
    if (!m.strict && code === 'internal') return `${where} ${m.field} (${m.label}): internal`;
    return null;
  }

  /** The plausible input around `top`: required fields, `top`, and optional fields until it validates. */
  function baseFor(toolName: string, schema: JsonSchema, top: string | undefined): Record<string, unknown> {
    const tool = TOOLS.find((t) => t.name === toolName);
    const extra = top === undefined || (schema.required ?? []).includes(top) ? [] : [top];
    const base = plausibleObject(schema, extra);
    if (tool === undefined || strictInput(tool).safeParse(base).success) return base;
    for (const key of Object.keys(schema.properties ?? {})) {
      const more = plausibleObject(schema, [...extra, key]);
      if (strictInput(tool).safeParse(more).success) return more;
    }
    return base;
  }

  async function fuzzTool(name: string, schema: JsonSchema, failures: string[], fixed: Record<string, unknown> = {}) {
    let calls = 0;
    for (const m of mutationsOf(schema, '', random)) {
      const top = typeof m.path[0] === 'string' ? m.path[0] : undefined;
      const input = withValue({ ...baseFor(name, schema, top), ...fixed }, schema, m.path, m.value);
      calls += 1;
      try {
        const res = await call(admin, name, input as Record<string, unknown>);
        const failure = judge(name, m, res.isError ? res.error?.code : undefined);
        if (failure !== null) failures.push(failure);
      } catch (err) {
        failures.push(`${name} ${m.field} (${m.label}): threw ${(err as Error).message}`);
      }
    }
    return calls;
  }

  it('refuses every bad field of every tool in the catalog', async () => {
    const { tools } = await admin.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(TOOLS.map((t) => t.name).sort());
    const failures: string[] = [];
    const wrote: string[] = [];
    let calls = 0;
    for (const tool of tools) {
      const before = await tablesDigest(platform.store.db);
      calls += await fuzzTool(tool.name, tool.inputSchema as JsonSchema, failures);
      const after = await tablesDigest(platform.store.db);
      for (const table of Object.keys(after)) if (after[table] !== before[table]) wrote.push(`${tool.name}: ${table}`);
    }
    expect(failures).toEqual([]);
    expect(wrote).toEqual([]);
    expect(calls).toBeGreaterThan(tools.length * 3);
  }, 120_000);

  it('refuses every bad field of every skill execute_skill runs', async () => {
    const listed = await call(admin, 'list_skills', {});
    const skills = listed.data.skills as Array<{ name: string; input_schema: JsonSchema }>;
    expect(skills.length).toBeGreaterThan(0);
    const failures: string[] = [];
    const before = await tablesDigest(platform.store.db);
    for (const skill of skills) {
      const inputs = plausibleObject(skill.input_schema, []);
      for (const m of mutationsOf(skill.input_schema, '', random)) {
        const res = await call(admin, 'execute_skill', {
          skill: skill.name,
          dry_run: true,
          inputs: withValue(inputs, skill.input_schema, m.path, m.value),
        });
        const failure = judge(`execute_skill ${skill.name}`, m, res.isError ? res.error?.code : undefined);
        if (failure !== null) failures.push(failure);
      }
    }
    expect(failures).toEqual([]);
    expect(await tablesDigest(platform.store.db)).toEqual(before);
  });

  it('refuses a manifest with a bad value in any field of the example fleet', async () => {
    const example = parseYaml(
      fs.readFileSync(new URL('../../examples/fleet.yaml', import.meta.url), 'utf8'),
    ) as unknown;
    const failures: string[] = [];
    const before = await tablesDigest(platform.store.db);
    for (const m of leafMutations(example, [], random)) {
      const manifest = JSON.stringify(withLeaf(example, m.path, m.value));
      for (const tool of ['diff_manifest', 'apply_manifest']) {
        const res = await call(admin, tool, { manifest });
        const failure = judge(tool, m, res.isError ? res.error?.code : undefined);
        if (failure !== null) failures.push(failure);
      }
    }
    expect(failures).toEqual([]);
    expect(await tablesDigest(platform.store.db)).toEqual(before);
  });

  it('answers resources with bad escapes or characters in their URI as invalid params', async () => {
    const failures: string[] = [];
    for (const template of ['flotilla://modules/', 'flotilla://rollouts/']) {
      for (const segment of [...BAD_SEGMENTS, ...unstorableStrings('fuzz', random).map(([, s]) => s)]) {
        try {
          await admin.readResource({ uri: `${template}${segment}` });
          failures.push(`${template}${segment}: answered`);
        } catch (err) {
          const message = (err as Error).message;
          if (!/invalid_input|not_found/.test(message) || /internal/.test(message)) {
            failures.push(`${template}${JSON.stringify(segment)}: ${message}`);
          }
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it('answers every REST endpoint with a 4xx for a bad path segment, query value or body field', async () => {
    const failures: string[] = [];
    const listed = (await admin.listTools()).tools;
    const before = await tablesDigest(platform.store.db);
    const expect4xx = (what: string, reply: HttpReply, strict = true): void => {
      const ok = strict ? reply.status >= 400 && reply.status < 500 : reply.status < 500;
      if (!ok) failures.push(`${what}: ${reply.status} ${reply.body.slice(0, 200)}`);
    };
    for (const endpoint of API_ENDPOINTS) {
      const fill = (segment: string): string => endpoint.path.replace(/:[a-z_]+/g, segment);
      for (const segment of BAD_SEGMENTS) {
        const reply = await http(
          url,
          endpoint.method,
          fill(segment),
          platform.adminToken,
          endpoint.body ? '{}' : undefined,
        );
        expect4xx(`${endpoint.method} ${fill(segment)}`, reply);
      }
      for (const [name] of Object.entries(endpoint.query ?? {})) {
        for (const value of [...BAD_SEGMENTS, '1e308', '-1', '99999999999999999999', 'NaN']) {
          const path = `${fill('fuzz-a')}?${name}=${value}`;
          expect4xx(`${endpoint.method} ${path}`, await http(url, endpoint.method, path, platform.adminToken));
        }
      }
      if (endpoint.body !== true) continue;
      const schema = listed.find((t) => t.name === endpoint.tool)!.inputSchema as JsonSchema;
      const fromPath = new Set(Object.values(endpoint.params ?? {}));
      const bodySchema: JsonSchema = {
        ...schema,
        properties: Object.fromEntries(Object.entries(schema.properties ?? {}).filter(([k]) => !fromPath.has(k))),
        required: (schema.required ?? []).filter((k) => !fromPath.has(k)),
      };
      for (const m of mutationsOf(bodySchema, '', random)) {
        const top = typeof m.path[0] === 'string' ? m.path[0] : undefined;
        const base = plausibleObject(bodySchema, top === undefined || bodySchema.required!.includes(top) ? [] : [top]);
        const body = JSON.stringify(withValue(base, bodySchema, m.path, m.value));
        const reply = await http(url, endpoint.method, fill('fuzz-a'), platform.adminToken, body);
        expect4xx(`${endpoint.method} ${endpoint.path} ${m.field} (${m.label})`, reply, m.strict);
      }
    }
    expect(failures).toEqual([]);
    expect(await tablesDigest(platform.store.db)).toEqual(before);
  });

  it('answers every agent route with a 4xx for a bad path segment or body field, from any bearer', async () => {
    const { token: enrollmentToken } = await enrollmentTokenFor(admin, 'fuzz-b');
    const failures: string[] = [];
    const before = await tablesDigest(platform.store.db);
    const check = (what: string, reply: HttpReply): void => {
      if (reply.status < 400 || reply.status >= 500)
        failures.push(`${what}: ${reply.status} ${reply.body.slice(0, 200)}`);
    };
    const enrollSchema: JsonSchema = {
      type: 'object',
      properties: {
        enrollment_token: { type: 'string', minLength: 1 },
        name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$' },
        region: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,62}$' },
        labels: { type: 'object', propertyNames: { type: 'string' }, additionalProperties: { type: 'string' } },
        running_module_digests: {
          type: 'object',
          propertyNames: { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]{0,62}$' },
          additionalProperties: { type: 'string', pattern: '^sha256:[0-9a-f]{64}$' },
        },
      },
      required: ['enrollment_token', 'name'],
    };
    const heartbeatSchema: JsonSchema = {
      type: 'object',
      properties: {
        running_module_digests: enrollSchema.properties!.running_module_digests!,
        health: { enum: ['ok', 'degraded', 'failed'] },
        status: { type: 'string', maxLength: 32 },
      },
      required: ['running_module_digests', 'health'],
    };
    const routes: Array<[string, JsonSchema, Record<string, unknown>]> = [
      ['/agents/v1/enroll', enrollSchema, { enrollment_token: enrollmentToken }],
      ['/agents/v1/heartbeat', heartbeatSchema, {}],
    ];
    for (const [path, schema, fixed] of routes) {
      for (const m of mutationsOf(schema, '', random)) {
        const top = typeof m.path[0] === 'string' ? m.path[0] : undefined;
        const base = { ...plausibleObject(schema, top === undefined ? [] : [top]), ...fixed };
        const body = JSON.stringify(withValue(base, schema, m.path, m.value));
        for (const token of [agent.agent_token, 'fla_not-a-token']) {
          check(`POST ${path} ${m.field} (${m.label})`, await http(url, 'POST', path, token, body));
        }
      }
    }
    for (const segment of BAD_SEGMENTS) {
      for (const path of [`/agents/v1/versions/${segment}/1.0.0`, `/agents/v1/versions/fuzz-a/${segment}`]) {
        for (const token of [agent.agent_token, 'fla_not-a-token']) {
          check(`GET ${path}`, await http(url, 'GET', path, token));
        }
      }
    }
    expect(failures).toEqual([]);
    expect(await tablesDigest(platform.store.db)).toEqual(before);
  });
});

/**
 * Bad values for every leaf of a parsed document: strings get unstorable text, numbers out-of-range
 * ones, and each key a NUL.
 */
function leafMutations(value: unknown, path: Array<string | number>, random: () => number): Mutation[] {
  const field = path.join('.');
  if (typeof value === 'string') {
    return unstorableStrings(value, random).map(([label, bad]) => ({ path, field, value: bad, label, strict: true }));
  }
  if (typeof value === 'number') {
    return [1e308, -1, 0.5].map((bad) => ({ path, field, value: bad, label: String(bad), strict: true }));
  }
  if (Array.isArray(value)) return value.flatMap((v, i) => leafMutations(v, [...path, i], random));
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).flatMap(([k, v]) => [
      ...leafMutations(v, [...path, k], random),
      {
        path: [...path, k],
        field: `${field}${field === '' ? '' : '.'}${k} (key)`,
        value: { renameTo: `${k}\u0000` },
        label: 'key with NUL',
        strict: true,
      },
    ]);
  }
  return [];
}

/** `doc` with the leaf at `path` replaced by `value` (`{ renameTo }` renames that key instead). */
function withLeaf(doc: unknown, path: Mutation['path'], value: unknown): unknown {
  if (path.length === 0) return value;
  const [step, ...rest] = path;
  if (Array.isArray(doc)) return doc.map((v, i) => (i === step ? withLeaf(v, rest, value) : v));
  const object = doc as Record<string, unknown>;
  const rename = rest.length === 0 && typeof value === 'object' && value !== null && 'renameTo' in value;
  return Object.fromEntries(
    Object.entries(object).map(([k, v]) =>
      k !== step
        ? [k, v]
        : rename
          ? [String((value as { renameTo: string }).renameTo), v]
          : [k, withLeaf(v, rest, value)],
    ),
  );
}
