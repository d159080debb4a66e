// control_federated_rollout: pause, pause one peer, resume, roll back, abort, or switch coordination.
import { z } from 'zod';
import { safeText } from '../src/domain/text.js';
import { COORDINATIONS, FEDERATED_CONTROL_ACTIONS } from '../src/domain/federated-rollout.js';
import { defineTool } from '../src/mcp/define-tool.js';
import {
  federatedRolloutIdInput,
  federatedRolloutView,
  legOutcomeView,
  toFederatedRolloutView,
  toLegOutcomeView,
} from './shared/federated-rollout-views.js';

export default defineTool({
  name: 'control_federated_rollout',
  title: 'Control federated rollout',
  description:
    'Pauses every leg or one peer’s, resumes paused legs, rolls back or aborts every leg, or switches synchronized and independent coordination; each peer gets an audited call through the outbox, applied there exactly once.',
  role: 'admin',
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  input: {
    federated_rollout_id: federatedRolloutIdInput,
    action: z
      .enum(FEDERATED_CONTROL_ACTIONS)
      .describe('pause, pause_peer (with federation_peer_id), resume, rollback, abort or set_coordination'),
    federation_peer_id: safeText({ min: 1, max: 200 })
      .optional()
      .describe('pause_peer: the peer whose leg to pause, by id or name (local: this platform’s leg)'),
    coordination: z
      .enum(COORDINATIONS)
      .optional()
      .describe('set_coordination: independent (lifts the barrier) or synchronized (barrier at the lowest batch)'),
    reason: safeText({ min: 1, max: 500 }).optional().describe('why, recorded in the audit entries and events'),
  },
  output: {
    federated_rollout: federatedRolloutView,
    legs: z.array(legOutcomeView).describe('what happened to each leg'),
  },
  handler: async ({ services, caller }, input) => {
    const result = await services.federatedRollouts.control(caller, input.federated_rollout_id, {
      action: input.action,
      ...(input.federation_peer_id === undefined ? {} : { federationPeerRef: input.federation_peer_id }),
      ...(input.coordination === undefined ? {} : { coordination: input.coordination }),
      ...(input.reason === undefined ? {} : { reason: input.reason }),
    });
    return { federated_rollout: toFederatedRolloutView(result), legs: result.outcomes.map(toLegOutcomeView) };
  },
});
