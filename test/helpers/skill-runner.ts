// Runs a shipped skill's steps in order against a real platform, as an assistant following it would:
// placeholders filled from the inputs and earlier results, `when` honoured, `as: approver` through a
// second operator's client, `repeat_until` retried while the test moves the world on between tries.
import type { FlotillaClient } from '../../src/mcp/client.js';
import type { Matcher, SkillFile, SkillStep } from './skill-files.js';

/** What one step did: skipped (its `when` did not hold) or called, with the last result. */
export interface StepRecord {
  index: number;
  tool: string;
  skipped: boolean;
  attempts: number;
  result: unknown;
}

export interface SkillRun {
  vars: Record<string, unknown>;
  steps: StepRecord[];
}

export interface RunOptions {
  /** The user's own client, and the second operator's for steps marked `as: approver`. */
  clients: { me: FlotillaClient; approver?: FlotillaClient };
  inputs: Record<string, unknown>;
  /** Moves the world on (agents heartbeat, reconciler ticks) before each try of a `repeat_until` step. */
  wait?: (step: SkillStep, vars: Record<string, unknown>) => Promise<void>;
  /** Tries of one `repeat_until` step before the run fails. */
  maxAttempts?: number;
}

/** The value at a dotted path (numeric segments index arrays); undefined when absent. */
export function valueAt(value: unknown, dotted: string): unknown {
  let at: unknown = value;
  for (const seg of dotted.split('.')) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Record<string, unknown>)[seg];
  }
  return at;
}

/** Replaces `{{name}}` placeholders: a whole-string placeholder keeps the value's type. */
export function fill(value: unknown, vars: Record<string, unknown>): unknown {
  if (typeof value === 'string') {
    const whole = /^\{\{([a-z][a-z0-9_]*)\}\}$/.exec(value);
    if (whole !== null) return lookup(vars, whole[1]!);
    return value.replace(/\{\{([a-z][a-z0-9_]*)\}\}/g, (_, name: string) => String(lookup(vars, name)));
  }
  if (Array.isArray(value)) return value.map((v) => fill(v, vars));
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fill(v, vars)]));
  return value;
}

function lookup(vars: Record<string, unknown>, name: string): unknown {
  if (!(name in vars)) throw new Error(`{{${name}}} has no value: no input and no earlier step saved it`);
  return vars[name];
}

function matches(actual: unknown, m: Matcher, vars: Record<string, unknown>): boolean {
  if (m !== null && typeof m === 'object' && 'one_of' in m)
    return m.one_of.some((v) => JSON.stringify(fill(v, vars)) === JSON.stringify(actual));
  if (m !== null && typeof m === 'object' && 'not_null' in m) return actual !== undefined && actual !== null;
  return JSON.stringify(fill(m, vars)) === JSON.stringify(actual);
}

/** Each `path → matcher` that `value` fails, described; empty when all hold. */
function mismatches(value: unknown, expect: Record<string, Matcher>, vars: Record<string, unknown>): string[] {
  return Object.entries(expect)
    .filter(([p, m]) => !matches(valueAt(value, p), m, vars))
    .map(([p, m]) => `${p} is ${JSON.stringify(valueAt(value, p))}, expected ${JSON.stringify(m)}`);
}

/** Runs every step of `skill` in order; throws at the first refusal or unexpected result, naming the step. */
export async function runSkill(skill: SkillFile, opts: RunOptions): Promise<SkillRun> {
  const vars: Record<string, unknown> = { ...opts.inputs };
  const missing = Object.keys(skill.inputs).filter((k) => !(k in vars));
  if (missing.length > 0) throw new Error(`${skill.folder}: inputs not given: ${missing.join(', ')}`);
  const records: StepRecord[] = [];
  for (const [i, step] of skill.steps.entries()) {
    const at = `${skill.folder} step ${i + 1} (${step.tool})`;
    if (step.when !== undefined && mismatches(vars, step.when, vars).length > 0) {
      records.push({ index: i + 1, tool: step.tool, skipped: true, attempts: 0, result: null });
      continue;
    }
    const client = step.as === undefined ? opts.clients.me : opts.clients.approver;
    if (client === undefined) throw new Error(`${at}: runs as ${step.as}, but no such client was given`);
    const args = fill(step.arguments, vars) as Record<string, unknown>;
    let attempts = 0;
    let result: unknown;
    for (;;) {
      if (step.repeat_until !== undefined) await opts.wait?.(step, vars);
      attempts += 1;
      const res = await client.callTool(step.tool, args);
      if (res.isError) throw new Error(`${at} was refused: ${res.text}`);
      result = res.structured;
      if (step.repeat_until === undefined || mismatches(result, step.repeat_until, vars).length === 0) break;
      if (attempts >= (opts.maxAttempts ?? 5))
        throw new Error(`${at}: after ${attempts} tries ${mismatches(result, step.repeat_until, vars).join('; ')}`);
    }
    const wrong = mismatches(result, step.expect ?? {}, vars);
    if (wrong.length > 0) throw new Error(`${at}: ${wrong.join('; ')}\n${JSON.stringify(result).slice(0, 2000)}`);
    for (const [name, p] of Object.entries(step.save ?? {})) {
      const v = valueAt(result, p);
      if (v === undefined) throw new Error(`${at}: cannot save ${name}: the result has no ${p}`);
      vars[name] = v;
    }
    records.push({ index: i + 1, tool: step.tool, skipped: false, attempts, result });
  }
  return { vars, steps: records };
}
