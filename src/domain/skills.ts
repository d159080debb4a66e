// Skill input schemas: what execute_skill accepts for each skill. Pure: zod only.
import { z } from 'zod';
import { safeText } from './text.js';
import { strategySchema } from './strategy.js';

export const ROLLING_UPGRADE_SKILL = 'system-rolling-module-upgrade';

export const rollingUpgradeInputs = z.strictObject({
  template_id: safeText({ min: 1 }).optional().describe('group id or name (or give group)'),
  group: safeText({ min: 1 }).optional().describe('group name (or give template_id)'),
  module_id: safeText({ min: 1 }).optional().describe('module id (or give module_name)'),
  module_name: safeText({ min: 1 }).optional().describe('module name (or give module_id)'),
  target_version_id: z
    .string()
    .min(1)
    .describe("target version id, or its version string within the module (e.g. '1.26.0')"),
  batch_pct: z.number().min(1).max(100).optional().describe('percent of the group per batch, default 20'),
  max_consecutive_failures: z
    .number()
    .int()
    .min(1)
    .max(1000)
    .optional()
    .describe('trip the circuit breaker after this many failures in a row, default 2'),
  health_timeout_sec: z
    .number()
    .int()
    .min(1)
    .max(86_400)
    .optional()
    .describe('seconds an instance has to heartbeat the new digest healthy, default 300'),
  strategy: strategySchema
    .optional()
    .describe('batch (default, from batch_pct), percentage (cumulative steps) or canary_step_up'),
  max_failure_pct: z
    .number()
    .min(0)
    .max(100)
    .optional()
    .describe('also trip when more than this percent of finished instances failed'),
  min_sample: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe('finished instances needed before max_failure_pct applies, default 10'),
  soak_sec: z.number().int().min(0).max(86_400).optional().describe('wait between batches, default 0'),
});

export type RollingUpgradeInputs = z.infer<typeof rollingUpgradeInputs>;

export interface SkillDescriptor {
  name: string;
  description: string;
  inputs: z.ZodObject;
}

export const SKILLS: readonly SkillDescriptor[] = [
  {
    name: ROLLING_UPGRADE_SKILL,
    description:
      'Upgrades a module across a group in batches with health gates, an approval per the system.fleet_rolling_upgrade ' +
      'intervention policy, and a circuit breaker that pauses for an operator decision after consecutive failures.',
    inputs: rollingUpgradeInputs,
  },
];
