// Skills: named, schema-described procedures an assistant can run. Today: the rolling module upgrade.
import { z } from 'zod';
import { type GroupRef } from '../domain/fleet.js';
import type { Caller } from '../domain/roles.js';
import { ROLLING_UPGRADE_SKILL, SKILLS, rollingUpgradeInputs } from '../domain/skills.js';
import type { Strategy } from '../domain/strategy.js';
import { InvalidInputError, NotFoundError } from '../errors.js';
import type { ModuleRef } from './modules-service.js';
import type { Plan, RolloutsService } from './rollouts-service.js';

export interface SkillListing {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((i) =>
      i.code === 'unrecognized_keys'
        ? `unknown input ${i.keys.map((k) => `"inputs.${k}"`).join(', ')}`
        : `inputs.${i.path.join('.') || '(root)'}: ${i.message}`,
    )
    .join('; ');
}

export class SkillsService {
  private readonly listing: SkillListing[];

  constructor(private readonly rollouts: RolloutsService) {
    this.listing = SKILLS.map((s) => {
      const { $schema: _s, ...schema } = z.toJSONSchema(s.inputs, { io: 'input' }) as Record<string, unknown>;
      return { name: s.name, description: s.description, inputSchema: schema };
    });
  }

  list(): SkillListing[] {
    return this.listing;
  }

  async execute(caller: Caller, skill: string, rawInputs: unknown, dryRun: boolean): Promise<Plan> {
    if (skill !== ROLLING_UPGRADE_SKILL) {
      throw new NotFoundError(`no skill named ${skill}`, {
        hint: `list_skills shows them: ${SKILLS.map((s) => s.name).join(', ')}`,
      });
    }
    const parsed = rollingUpgradeInputs.safeParse(rawInputs ?? {});
    if (!parsed.success)
      throw new InvalidInputError(describeIssues(parsed.error), {
        hint: 'list_skills shows the input schema; nothing was changed',
      });
    const i = parsed.data;
    if ((i.group === undefined) === (i.template_id === undefined))
      throw new InvalidInputError('inputs need exactly one of template_id or group');
    if ((i.module_id === undefined) === (i.module_name === undefined))
      throw new InvalidInputError('inputs need exactly one of module_id or module_name');
    if (i.strategy !== undefined && i.batch_pct !== undefined && i.strategy.type !== 'batch') {
      throw new InvalidInputError('give batch_pct or a non-batch strategy, not both');
    }
    const group: GroupRef = i.group !== undefined ? { groupName: i.group } : { groupId: i.template_id! };
    const module: ModuleRef = i.module_name !== undefined ? { moduleName: i.module_name } : { moduleId: i.module_id! };
    const strategy: Strategy = i.strategy ?? { type: 'batch', batch_pct: i.batch_pct ?? 20 };
    return this.rollouts.plan(
      caller,
      {
        group,
        module,
        targetVersionRef: i.target_version_id,
        strategy,
        maxConsecutiveFailures: i.max_consecutive_failures ?? 2,
        healthTimeoutSec: i.health_timeout_sec ?? 300,
        maxFailurePct: i.max_failure_pct ?? null,
        minSample: i.min_sample ?? null,
        soakSec: i.soak_sec ?? 0,
      },
      dryRun,
    );
  }
}
