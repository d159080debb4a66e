// Fuzz inputs from JSON schemas (as tools/list publishes them): a plausible value for every schema, and
// the bad values to put in each field one at a time, each marked strict when the published schema (or
// what any store can keep: no NUL, no lone surrogates) refuses it. Plus a digest of every table, to
// show a refused call wrote nothing. Deterministic: the only choices come from a seeded generator.
import { sql } from 'kysely';
import type { Db } from '../../src/store/executor.js';

/** The subset of JSON Schema zod's toJSONSchema emits for tool inputs. */
export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  additionalProperties?: boolean | JsonSchema;
  propertyNames?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  pattern?: string;
  format?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minItems?: number;
  maxItems?: number;
}

/** mulberry32: a small seeded generator, so every run puts the bad characters in the same places. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const FUZZ_UUID = '00000000-0000-4000-8000-00000000f022';
const DIGEST = `sha256:${'a'.repeat(64)}`;
/** Values tried, in order, for a string with a pattern: the first the pattern accepts is used. */
const PATTERN_CANDIDATES = ['fuzz-a', '1.0.0', DIGEST, 'fuzz@a', FUZZ_UUID, 'a'];

function typeOf(schema: JsonSchema): string | undefined {
  return Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
}

/** The options of an anyOf/oneOf that are not null. */
export function options(schema: JsonSchema): JsonSchema[] {
  return (schema.anyOf ?? schema.oneOf ?? []).filter((o) => o.type !== 'null');
}

function fitsString(value: string, schema: JsonSchema): boolean {
  if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value)) return false;
  if (schema.minLength !== undefined && value.length < schema.minLength) return false;
  return schema.maxLength === undefined || value.length <= schema.maxLength;
}

/** A value the schema accepts (optional properties left out), or undefined when none is found. */
export function plausible(schema: JsonSchema): unknown {
  if (schema.const !== undefined) return schema.const;
  if (schema.enum !== undefined) return schema.enum[0];
  const alternatives = options(schema);
  if (alternatives.length > 0) return plausible(alternatives[0]!);
  switch (typeOf(schema)) {
    case 'string': {
      if (schema.format === 'uri') return 'http://127.0.0.1:9/';
      if (schema.pattern !== undefined) return PATTERN_CANDIDATES.find((c) => fitsString(c, schema));
      const text = 'fuzz-a'.padEnd(schema.minLength ?? 0, 'a');
      return schema.maxLength === undefined ? text : text.slice(0, schema.maxLength);
    }
    case 'integer':
    case 'number': {
      const low = schema.minimum ?? (schema.exclusiveMinimum === undefined ? 1 : schema.exclusiveMinimum + 1);
      const value = Math.max(low, 1);
      return schema.maximum !== undefined && value > schema.maximum ? low : value;
    }
    case 'boolean':
      return false;
    case 'array': {
      const n = Math.max(schema.minItems ?? 0, schema.maxItems === 0 ? 0 : 1);
      return Array.from({ length: Math.min(n, 1) }, () => plausible(schema.items ?? {}));
    }
    case 'object':
      return plausibleObject(schema, []);
    default:
      return 'fuzz-a';
  }
}

/** The object with its required properties, and `extra` optional ones, set to plausible values. */
export function plausibleObject(schema: JsonSchema, extra: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of [...(schema.required ?? []), ...extra]) {
    const property = schema.properties?.[key];
    if (property !== undefined) out[key] = plausible(property);
  }
  return out;
}

/** A bad value for one place: `strict` when it must be answered invalid_input (or 4xx). */
export interface Mutation {
  /** Where it goes: property names and array indexes; `{ key }` marks a record key being replaced. */
  path: Array<string | number | { key: string }>;
  value: unknown;
  /** The field it is in, for messages (`placement.weights.fuzz-a`, `strategy.steps.0`). */
  field: string;
  label: string;
  strict: boolean;
}

/** Inserts `bad` into `text` at a seeded position (start, middle or end). */
function insert(text: string, bad: string, random: () => number): string {
  const at = Math.floor(random() * (text.length + 1));
  return text.slice(0, at) + bad + text.slice(at);
}

/** Strings no store keeps: NUL, and lone surrogate halves (high and low). */
export function unstorableStrings(base: string, random: () => number): Array<[string, string]> {
  return [
    ['NUL', insert(base, '\u0000', random)],
    ['lone high surrogate', insert(base, '\uD800', random)],
    ['lone low surrogate', insert(base, '\uDC00', random)],
  ];
}

/** A cursor as the lists encode them (base64url JSON), carrying `key`. */
export const cursorOf = (key: Record<string, unknown>): string =>
  Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');

/** Dates no store keeps, or that are no date at all. */
export const BAD_DATES = [
  '+275760-09-13T00:00:00.000Z',
  '-271821-04-20T00:00:00.000Z',
  '-004714-01-01T00:00:00.000Z',
  '+099999-01-01T00:00:00.000Z',
  '2026-02-30T00:00:00.000Z',
  'not-a-date',
];

/**
 * Cursors no list issued. Strict ones are bad in every key any list reads; the lenient ones carry a
 * well-formed id with a date no store keeps (a list keyed by id alone may accept them, none may fail).
 */
export function badCursors(random: () => number): Array<{ label: string; value: string; strict: boolean }> {
  const everyKeyBad = (date: string, text: string) => ({
    created_at: date,
    id: text,
    name: text,
    key: text,
    position: '1e308',
    priority: '99999999999',
    sequence: '-1',
  });
  const out: Array<{ label: string; value: string; strict: boolean }> = [];
  for (const [label, text] of unstorableStrings('fuzz', random)) {
    out.push({ label: `cursor text with ${label}`, value: text, strict: true });
    out.push({ label: `cursor keys with ${label}`, value: cursorOf(everyKeyBad(BAD_DATES[0]!, text)), strict: true });
  }
  out.push({ label: 'cursor of bad percent-escapes', value: '%E0%A4%A', strict: true });
  // '1e308' is a fine name to page operators or modules after: no list may fail on it, some accept it.
  out.push({ label: 'cursor of numbers too large', value: cursorOf(everyKeyBad('1e308', '1e308')), strict: false });
  for (const date of BAD_DATES) {
    out.push({ label: `cursor dated ${date}`, value: cursorOf({ created_at: date, id: FUZZ_UUID }), strict: false });
  }
  return out;
}

/** True when the published schema admits `value` as a number. */
function admitsNumber(schema: JsonSchema, value: unknown): boolean {
  if (typeof value !== 'number' || !Number.isFinite(value)) return false;
  const t = typeOf(schema);
  if (t !== 'number' && t !== 'integer') return false;
  if (t === 'integer' && !Number.isInteger(value)) return false;
  if (schema.minimum !== undefined && value < schema.minimum) return false;
  if (schema.maximum !== undefined && value > schema.maximum) return false;
  if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum) return false;
  return schema.exclusiveMaximum === undefined || value < schema.exclusiveMaximum;
}

const BAD_NUMBERS: Array<[string, unknown]> = [
  ['1e308', 1e308],
  ['-1', -1],
  ['2**63', 2 ** 63],
  ['0.5', 0.5],
  ['"NaN"', 'NaN'],
];

/**
 * Every bad value for the places inside `schema`, with `host` the plausible value around them.
 * `name` is the property name the schema sits under (a `cursor` gets crafted cursors).
 */
export function mutationsOf(schema: JsonSchema, name: string, random: () => number): Mutation[] {
  const out: Mutation[] = [];
  const alternatives = options(schema);
  if (alternatives.length > 0) {
    // Each alternative's own fields, inside a whole value of that alternative.
    for (const option of alternatives) {
      for (const m of mutationsOf(option, name, random)) {
        out.push({ ...m, path: [], value: withValue(plausible(option), option, m.path, m.value) });
      }
    }
    return out;
  }
  if (schema.const !== undefined || schema.enum !== undefined) {
    for (const [label, value] of unstorableStrings(String(schema.const ?? schema.enum![0]), random)) {
      out.push({ path: [], field: '', value, label, strict: true });
    }
    return out;
  }
  switch (typeOf(schema)) {
    case 'string': {
      if (name === 'cursor') {
        for (const c of badCursors(random)) out.push({ path: [], field: '', ...c });
        return out;
      }
      const base = String(plausible(schema) ?? 'fuzz-a');
      for (const [label, value] of unstorableStrings(base, random))
        out.push({ path: [], field: '', value, label, strict: true });
      if (schema.format === 'date-time') {
        for (const date of BAD_DATES)
          out.push({ path: [], field: '', value: date, label: `date ${date}`, strict: true });
      }
      return out;
    }
    case 'integer':
    case 'number':
      for (const [label, value] of BAD_NUMBERS) {
        out.push({ path: [], field: '', value, label, strict: !admitsNumber(schema, value) });
      }
      return out;
    case 'array':
      for (const m of mutationsOf(schema.items ?? {}, name, random))
        out.push({ ...m, path: [0, ...m.path], field: join(0, m.field) });
      return out;
    case 'object': {
      for (const [key, property] of Object.entries(schema.properties ?? {})) {
        for (const m of mutationsOf(property, key, random))
          out.push({ ...m, path: [key, ...m.path], field: join(key, m.field) });
      }
      const values = schema.additionalProperties;
      if (typeof values === 'object') {
        // A record: a bad key with a plausible value, then a plausible key with each bad value.
        const key = String(plausible(schema.propertyNames ?? { type: 'string' }) ?? 'fuzz-a');
        for (const [label, bad] of unstorableStrings(key, random)) {
          out.push({
            path: [{ key: bad }],
            field: '',
            value: plausible(values),
            label: `record key with ${label}`,
            strict: true,
          });
        }
        if (Object.keys(values).length > 0) {
          for (const m of mutationsOf(values, key, random))
            out.push({ ...m, path: [key, ...m.path], field: join(key, m.field) });
        }
      }
      return out;
    }
    default:
      return out;
  }
}

const join = (step: string | number, rest: string): string => (rest === '' ? String(step) : `${step}.${rest}`);

/** `host` with `value` put at `path`, creating plausible containers on the way. */
export function withValue(host: unknown, schema: JsonSchema, path: Mutation['path'], value: unknown): unknown {
  if (path.length === 0) return value;
  const [step, ...rest] = path;
  if (typeof step === 'number') {
    const items = Array.isArray(host) && host.length > 0 ? [...(host as unknown[])] : [plausible(schema.items ?? {})];
    items[step] = withValue(items[step], schema.items ?? {}, rest, value);
    return items;
  }
  const object: Record<string, unknown> =
    typeof host === 'object' && host !== null && !Array.isArray(host)
      ? { ...(host as Record<string, unknown>) }
      : plausibleObject(schema, []);
  if (typeof step === 'object') {
    object[step!.key] = value;
    return object;
  }
  const child =
    schema.properties?.[step!] ?? (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : {});
  const current = step! in object ? object[step!] : plausible(child);
  object[step!] = withValue(current, child, rest, value);
  return object;
}

const tableNames = new WeakMap<Db, string[]>();

/** Row count and content digest of every table of the public schema, by table name, in one statement. */
export async function tablesDigest(db: Db): Promise<Record<string, string>> {
  let names = tableNames.get(db);
  if (names === undefined) {
    const tables = await sql<{ table_name: string }>`
      SELECT table_name FROM information_schema.tables
      WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`.execute(db);
    names = tables.rows.map((r) => r.table_name);
    tableNames.set(db, names);
  }
  const parts = names.map(
    (
      name,
    ) => sql`SELECT ${name}::text AS name, count(*)::text || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') AS digest
      FROM ${sql.table(name)} t`,
  );
  const rows = await sql<{ name: string; digest: string }>`${sql.join(parts, sql` UNION ALL `)}`.execute(db);
  return Object.fromEntries(rows.rows.map((r) => [r.name, r.digest]));
}
