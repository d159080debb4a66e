// The Agent Skills in skills/: every SKILL.md has valid front matter (name = folder, a short description),
// and every step block names a tool of the catalog with arguments its input schema knows, result paths its
// output schema has, and placeholders an input or an earlier step provides. The checker itself is shown
// to catch each kind of mistake.
import { describe, expect, it } from 'vitest';
import { TOOLS } from '../../tools/index.js';
import { frontMatterProblems, parseSkill, readSkills, stepProblems, type SkillFile } from '../helpers/skill-files.js';

const SKILLS = readSkills();

describe('shipped skills', () => {
  it('cover the jobs users ask for', () => {
    expect(SKILLS.map((s) => s.folder)).toEqual([
      'apply-fleet-manifest',
      'federated-rollout',
      'handle-circuit-breaker',
      'upgrade-module-safely',
    ]);
  });

  describe.each(SKILLS.map((s) => [s.folder, s] as const))('%s', (_folder, skill) => {
    it('has Agent Skills front matter: name = folder, a short description', () => {
      expect(frontMatterProblems(skill)).toEqual([]);
    });

    it('calls only catalog tools, with known arguments, result paths and placeholders', () => {
      expect(stepProblems(skill, TOOLS)).toEqual([]);
    });
  });

  it('say that a different operator makes every call marked as approver (four-eyes)', () => {
    const withApprover = SKILLS.filter((k) => k.steps.some((step) => step.as === 'approver'));
    expect(withApprover.map((s) => s.folder)).toEqual(['handle-circuit-breaker', 'upgrade-module-safely']);
    for (const s of withApprover) expect(s.body, s.folder).toMatch(/\*\*(a )?different operator\*\*/);
  });
});

/** A one-step skill around `block`, for showing what the checker refuses. */
const oneStep = (block: string, fm = 'name: probe\ndescription: A probe.'): SkillFile =>
  parseSkill('probe', `---\n${fm}\n---\n\n# Probe\n\n\`\`\`json\n${block}\n\`\`\`\n`);

describe('the skill checker', () => {
  it('accepts a well-formed step', () => {
    const skill = oneStep(
      '{ "tool": "get_rollout", "arguments": { "rollout_id": "r-1" }, "expect": { "rollout.state": "running" } }',
    );
    expect([...frontMatterProblems(skill), ...stepProblems(skill, TOOLS)]).toEqual([]);
  });

  it('refuses a name that differs from the folder, and a missing or long description', () => {
    expect(frontMatterProblems(oneStep('{"tool":"get_platform_info","arguments":{}}', 'name: Probe_1'))).toEqual([
      'name "Probe_1": 1–64 lower-case letters, digits and single hyphens',
      'name "Probe_1" differs from its folder probe',
      'description missing',
    ]);
    const long = oneStep('{"tool":"get_platform_info","arguments":{}}', `name: probe\ndescription: ${'x'.repeat(501)}`);
    expect(frontMatterProblems(long)).toEqual(['description is 501 characters (at most 500)']);
  });

  it('refuses an unknown tool, an unknown or missing argument, and a path the result lacks', () => {
    expect(stepProblems(oneStep('{ "tool": "get_rollouts", "arguments": {} }'), TOOLS)).toEqual([
      'step 1 (get_rollouts): no tool get_rollouts',
    ]);
    const bad = oneStep(
      '{ "tool": "watch_rollout", "arguments": { "rolout_id": "r" }, "expect": { "rollout.status": "running" } }',
    );
    expect(stepProblems(bad, TOOLS)).toEqual([
      'step 1 (watch_rollout): rollout_id is required',
      'step 1 (watch_rollout): unknown argument rolout_id',
      'step 1 (watch_rollout): the result has no rollout.status',
    ]);
  });

  it("checks execute_skill's inputs against the skill's own schema", () => {
    const skill = oneStep(
      '{ "tool": "execute_skill", "arguments": { "skill": "system-rolling-module-upgrade", "inputs": { "target_version_id": "1", "batch_percent": 20 } } }',
    );
    expect(stepProblems(skill, TOOLS)).toEqual(['step 1 (execute_skill) inputs: unknown argument batch_percent']);
  });

  it('refuses a placeholder no input or earlier step provides, and a misspelled block key', () => {
    const skill = oneStep('{ "tool": "get_rollout", "arguments": { "rollout_id": "{{rollout}}" } }');
    expect(stepProblems(skill, TOOLS)).toEqual([
      'step 1 (get_rollout): {{rollout}} is neither an input nor saved by an earlier step',
    ]);
    expect(() => oneStep('{ "tool": "get_rollout", "arguments": {}, "expected": {} }')).toThrow(/expected/);
  });
});
