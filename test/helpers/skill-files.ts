// Reads the Agent Skills shipped in skills/: front matter, the inputs block and the step blocks of each
// SKILL.md, and checks them against the tool catalog (tool names, argument keys, result paths, placeholders).
// Only reads files and schemas: running the steps is skill-runner.ts's job.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { SKILLS } from '../../src/domain/skills.js';
import type { AnyTool } from '../../src/mcp/define-tool.js';
import { listTools } from '../../src/mcp/server.js';

export const SKILLS_DIR = fileURLToPath(new URL('../../skills/', import.meta.url));

/** A matcher in `expect`, `when` or `repeat_until`: a JSON value (equal), one of several, or any but null. */
const matcher = z.union([
  z.strictObject({ one_of: z.array(z.unknown()).min(1) }),
  z.strictObject({ not_null: z.literal(true) }),
  z.union([z.string(), z.number(), z.boolean(), z.null()]),
]);
export type Matcher = z.infer<typeof matcher>;

/** Dotted path into a result (`rollout.state`, `rollouts.0.id`). */
const resultPath = z.string().regex(/^[a-z_][a-z0-9_]*(\.([a-z_][a-z0-9_]*|[0-9]+))*$/);
const variableName = z.string().regex(/^[a-z][a-z0-9_]*$/);

/** One step block: the convention skills/README.md documents. */
export const stepBlock = z.strictObject({
  tool: z.string().min(1),
  arguments: z.record(z.string(), z.unknown()),
  as: z.enum(['approver']).optional(),
  when: z.record(variableName, matcher).optional(),
  repeat_until: z.record(resultPath, matcher).optional(),
  expect: z.record(resultPath, matcher).optional(),
  save: z.record(variableName, resultPath).optional(),
});
export type SkillStep = z.infer<typeof stepBlock>;

const inputsBlock = z.strictObject({ inputs: z.record(variableName, z.string().min(1)) });

export interface SkillFile {
  folder: string;
  frontMatter: Record<string, unknown>;
  /** The markdown after the front matter. */
  body: string;
  /** Inputs the user (or the assistant, by the skill's criteria) supplies, with what each means. */
  inputs: Record<string, string>;
  steps: SkillStep[];
}

/** Every skill folder's SKILL.md, parsed; throws on a block that is neither inputs nor a step. */
export function readSkills(dir = SKILLS_DIR): SkillFile[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => parseSkill(e.name, fs.readFileSync(path.join(dir, e.name, 'SKILL.md'), 'utf8')))
    .sort((a, b) => a.folder.localeCompare(b.folder));
}

/** Parses one SKILL.md's text. */
export function parseSkill(folder: string, text: string): SkillFile {
  const fm = /^---\n([\s\S]*?)\n---\n/.exec(text);
  if (fm === null) throw new Error(`${folder}/SKILL.md: no YAML front matter between --- lines at the top`);
  const frontMatter = parseYaml(fm[1]!) as Record<string, unknown>;
  const body = text.slice(fm[0].length);
  let inputs: Record<string, string> | null = null;
  const steps: SkillStep[] = [];
  for (const block of body.matchAll(/^```json\n([\s\S]*?)^```$/gm)) {
    const where: string = `${folder}/SKILL.md block ${steps.length + (inputs === null ? 0 : 1) + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(block[1]!);
    } catch (err) {
      throw new Error(`${where}: not JSON (${String(err)})`);
    }
    if (typeof value === 'object' && value !== null && 'inputs' in value) {
      if (inputs !== null) throw new Error(`${where}: a second inputs block`);
      inputs = parseOrThrow(inputsBlock, value, where).inputs;
    } else {
      steps.push(parseOrThrow(stepBlock, value, where));
    }
  }
  return { folder, frontMatter, body, inputs: inputs ?? {}, steps };
}

function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new Error(`${where}: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

const FRONT_MATTER_KEYS = new Set(['name', 'description', 'license', 'compatibility', 'metadata', 'allowed-tools']);
/** Longest description we ship: the spec allows 1,024, but hosts load every description up front. */
export const MAX_DESCRIPTION_CHARS = 500;

/** What is wrong with a skill's front matter per the Agent Skills format; empty when nothing. */
export function frontMatterProblems(skill: SkillFile): string[] {
  const out: string[] = [];
  const { name, description } = skill.frontMatter;
  for (const key of Object.keys(skill.frontMatter)) if (!FRONT_MATTER_KEYS.has(key)) out.push(`unknown key ${key}`);
  if (typeof name !== 'string' || !/^[a-z0-9]+(-[a-z0-9]+)*$/.test(name) || name.length > 64)
    out.push(`name ${JSON.stringify(name)}: 1–64 lower-case letters, digits and single hyphens`);
  if (name !== skill.folder) out.push(`name ${JSON.stringify(name)} differs from its folder ${skill.folder}`);
  if (typeof description !== 'string' || description.trim() === '') out.push('description missing');
  else if (description.length > MAX_DESCRIPTION_CHARS)
    out.push(`description is ${description.length} characters (at most ${MAX_DESCRIPTION_CHARS})`);
  const { compatibility } = skill.frontMatter;
  if (compatibility !== undefined && (typeof compatibility !== 'string' || compatibility.length > 500))
    out.push('compatibility: text of at most 500 characters');
  return out;
}

type Schema = Record<string, unknown>;

/** Follows a local `$ref` (`#/$defs/x`) against `root`. */
function deref(schema: Schema, root: Schema): Schema {
  const ref = schema.$ref;
  if (typeof ref !== 'string' || !ref.startsWith('#/')) return schema;
  let at: unknown = root;
  for (const seg of ref.slice(2).split('/')) at = (at as Schema | undefined)?.[seg];
  return deref((at ?? {}) as Schema, root);
}

function branches(schema: Schema): Schema[] | null {
  const list = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  return Array.isArray(list) ? list : null;
}

const PLACEHOLDER = /^\{\{[a-z][a-z0-9_]*\}\}$/;

/** Argument keys `value` uses that `schema` does not know, and required keys it lacks (placeholders skip). */
export function argumentProblems(value: unknown, schemaIn: Schema, root: Schema, at: string): string[] {
  const schema = deref(schemaIn, root);
  const alternatives = branches(schema);
  if (alternatives !== null) {
    const tries = alternatives.map((s) => argumentProblems(value, s, root, at));
    return tries.find((t) => t.length === 0) ?? tries.sort((a, b) => a.length - b.length)[0] ?? [];
  }
  if (typeof value === 'string' && PLACEHOLDER.test(value)) return [];
  if (Array.isArray(value)) {
    const items = schema.items as Schema | undefined;
    return items === undefined ? [] : value.flatMap((v, i) => argumentProblems(v, items, root, `${at}[${i}]`));
  }
  if (typeof value !== 'object' || value === null || schema.type !== 'object') return [];
  const props = (schema.properties ?? {}) as Record<string, Schema>;
  const extra = schema.additionalProperties;
  const out: string[] = [];
  for (const key of (schema.required ?? []) as string[]) if (!(key in value)) out.push(`${at}: ${key} is required`);
  for (const [key, v] of Object.entries(value)) {
    const sub = props[key] ?? (typeof extra === 'object' && extra !== null ? (extra as Schema) : undefined);
    if (sub === undefined && extra !== true) out.push(`${at}: unknown argument ${key}`);
    else if (sub !== undefined) out.push(...argumentProblems(v, sub, root, `${at}.${key}`));
  }
  return out;
}

/** Whether `dotted` can exist in a value of `schema` (numeric segments index arrays). */
export function pathExists(dotted: string, schemaIn: Schema, root: Schema = schemaIn): boolean {
  if (dotted === '') return true;
  const schema = deref(schemaIn, root);
  const alternatives = branches(schema);
  if (alternatives !== null) return alternatives.some((s) => pathExists(dotted, s, root));
  const shaped = ['type', 'properties', 'items', 'additionalProperties', 'const', 'enum'].some((k) => k in schema);
  if (!shaped) return true; // any JSON value: whatever the path, it may be there
  const dot = dotted.indexOf('.');
  const [seg, rest] = dot === -1 ? [dotted, ''] : [dotted.slice(0, dot), dotted.slice(dot + 1)];
  if (/^[0-9]+$/.test(seg)) {
    const items = schema.items as Schema | undefined;
    return items !== undefined && pathExists(rest, items, root);
  }
  const props = (schema.properties ?? {}) as Record<string, Schema>;
  const extra = schema.additionalProperties;
  const sub = props[seg] ?? (typeof extra === 'object' && extra !== null ? (extra as Schema) : undefined);
  return sub !== undefined && pathExists(rest, sub, root);
}

/** Names of the `{{placeholders}}` anywhere in `value`. */
export function placeholdersIn(value: unknown): string[] {
  return [...JSON.stringify(value ?? null).matchAll(/\{\{([a-z][a-z0-9_]*)\}\}/g)].map((m) => m[1]!);
}

/** Everything wrong with a skill's steps against the catalog, each naming the step; empty when nothing. */
export function stepProblems(skill: SkillFile, tools: readonly AnyTool[]): string[] {
  const out: string[] = [];
  if (skill.steps.length === 0) out.push('no step blocks');
  const known = new Set(Object.keys(skill.inputs));
  skill.steps.forEach((step, i) => {
    const at = `step ${i + 1} (${step.tool})`;
    const tool = tools.find((t) => t.name === step.tool);
    for (const name of [
      ...placeholdersIn([step.arguments, step.expect, step.repeat_until]),
      ...Object.keys(step.when ?? {}),
    ])
      if (!known.has(name)) out.push(`${at}: {{${name}}} is neither an input nor saved by an earlier step`);
    for (const name of Object.keys(step.save ?? {})) known.add(name);
    if (tool === undefined) {
      out.push(`${at}: no tool ${step.tool}`);
      return;
    }
    const published = listTools(tools).find((t) => t.name === tool.name);
    const input: Schema = published?.inputSchema ?? {};
    const output: Schema = published?.outputSchema ?? {};
    out.push(...argumentProblems(step.arguments, input, input, at));
    const skillName = step.arguments.skill;
    if (step.tool === 'execute_skill' && typeof skillName === 'string') {
      const descriptor = SKILLS.find((s) => s.name === skillName);
      if (descriptor === undefined) out.push(`${at}: execute_skill has no skill ${skillName}`);
      else {
        const schema = z.toJSONSchema(descriptor.inputs, { io: 'input', unrepresentable: 'any' }) as Schema;
        out.push(...argumentProblems(step.arguments.inputs, schema, schema, `${at} inputs`));
      }
    }
    const paths = [
      ...Object.keys(step.expect ?? {}),
      ...Object.keys(step.repeat_until ?? {}),
      ...Object.values(step.save ?? {}),
    ];
    for (const p of paths) if (!pathExists(p, output)) out.push(`${at}: the result has no ${p}`);
  });
  return out;
}
