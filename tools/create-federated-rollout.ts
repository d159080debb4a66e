// create_federated_rollout: one rollout of a module version across registered peers (and this platform).
import { z } from 'zod';
import { safeText } from '../src/domain/text.js';
import { COORDINATIONS } from '../src/domain/federated-rollout.js';
import { strategySchema } from '../src/domain/strategy.js';
import { defineTool } from '../src/mcp/define-tool.js';
import { federatedRolloutView, toFederatedRolloutView } from './shared/federated-rollout-views.js';
import { moduleRefInput } from './shared/views.js';

export default defineTool({
  name: 'create_federated_rollout',
  title: 'Create federated rollout',
  description:
    'Prechecks every target peer for the version and group, then records one federated rollout whose legs each peer plans and runs under its own policies (signed start requests through the outbox), with audit entries per peer and a federation.rollout_initiated event.',
  role: 'admin',
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  input: {
    ...moduleRefInput,
    target_version: safeText({ min: 1, max: 200 }).describe(
      'the version string every target must have published, blessed or live, e.g. 1.26.0',
    ),
    peers: z
      .array(safeText({ min: 1, max: 200 }))
      .max(100)
      .describe('target peers by id or name: registered, active peers of this platform only'),
    include_local: z.boolean().optional().describe('also run a leg on this platform, default false'),
    group: safeText({ min: 1, max: 200 }).describe('the group to upgrade, by name, on every target'),
    per_peer_group: z
      .record(safeText(), safeText({ min: 1, max: 200 }))
      .optional()
      .describe('group overrides: { <peer id or name, or local>: <group> } where naming differs'),
    strategy: strategySchema
      .optional()
      .describe('per leg: batch (default 20 %), percentage (cumulative steps) or canary_step_up'),
    coordination: z
      .enum(COORDINATIONS)
      .optional()
      .describe(
        'independent (default): each leg on its own timer; synchronized: no leg starts batch k+1 before all completed batch k',
      ),
    max_consecutive_failures: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .optional()
      .describe('each leg’s circuit breaker trips after this many failures in a row, default 2'),
    health_timeout_sec: z
      .number()
      .int()
      .min(1)
      .max(86_400)
      .optional()
      .describe('seconds an instance has to report the new version healthy, default 300'),
  },
  output: { federated_rollout: federatedRolloutView },
  handler: async ({ services, caller }, input) => {
    const view = await services.federatedRollouts.create(caller, {
      ...(input.module_name === undefined ? {} : { moduleName: input.module_name }),
      ...(input.module_id === undefined ? {} : { moduleId: input.module_id }),
      targetVersion: input.target_version,
      peers: input.peers,
      includeLocal: input.include_local ?? false,
      group: input.group,
      perPeerGroup: input.per_peer_group ?? {},
      strategy: input.strategy ?? { type: 'batch', batch_pct: 20 },
      coordination: input.coordination ?? 'independent',
      maxConsecutiveFailures: input.max_consecutive_failures ?? 2,
      healthTimeoutSec: input.health_timeout_sec ?? 300,
    });
    return { federated_rollout: toFederatedRolloutView(view) };
  },
});
