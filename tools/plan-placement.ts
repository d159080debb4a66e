// plan_placement: a dry run of placement — each peer's share of the replicas, its score and why, and
// why excluded peers get nothing. Reads only; writes nothing, audits nothing, uses no override.
import { z } from 'zod';
import { safeText } from '../src/domain/text.js';
import { MAX_REPLICAS, placementPolicySchema } from '../src/domain/placement.js';
import { defineTool } from '../src/mcp/define-tool.js';
import { federationPeerIdInput } from './shared/federation-views.js';

const peerRef = z.object({
  federation_peer_id: z.string().describe('the peer id, or this platform id for the local share'),
  name: z.string(),
  local: z.boolean().describe('true for this platform (include_local)'),
});

export default defineTool({
  name: 'plan_placement',
  title: 'Plan placement',
  description:
    "Dry run of a federated deployment's placement: each peer's share of the replicas by strategy, its score and why, and why excluded peers (residency, boundary, not active) get nothing; writes nothing.",
  role: 'viewer',
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  input: {
    module_name: safeText({ min: 1, max: 200 }).describe('the module to place'),
    version: safeText({ min: 1, max: 200 }).describe('its version string (or version id)'),
    replicas: z.number().int().min(0).max(MAX_REPLICAS).describe('instances to run the version on, in all'),
    group: safeText({ min: 1, max: 128 }).describe('the group whose instances run it on each peer'),
    peers: z.array(federationPeerIdInput).max(500).describe('candidate peers, by id or name'),
    include_local: z.boolean().default(false).describe('this platform takes a share too'),
    placement: placementPolicySchema.describe(
      'how replicas are spread: strategy weighted | geo_affinity | resource_based | cost_optimized, with weights, min, max, regions',
    ),
  },
  output: {
    module_name: z.string(),
    version: z.string(),
    version_id: z.string(),
    group: z.string(),
    strategy: z.string(),
    replicas: z.number().int(),
    feasible: z.boolean(),
    unplaced: z.number().int().describe('replicas no allowed peer could take'),
    reasons: z.array(z.string()).describe('why the placement is infeasible; empty when feasible'),
    shares: z.array(peerRef.extend({ replicas: z.number().int(), score: z.number(), why: z.string() })),
    excluded: z.array(peerRef.extend({ reasons: z.array(z.string()) })),
    peers: z
      .array(
        peerRef.extend({
          region: z.string().nullable(),
          status: z.string(),
          group: z.string().describe('the group placed there (a per-peer override names another)'),
          capacity: z
            .number()
            .int()
            .nullable()
            .describe('online instances of the group free for the module; null: never reported'),
          held_by_other_deployments: z
            .number()
            .int()
            .describe("replicas of the module this platform's other federated deployments hold there"),
          cost_per_instance: z.number().nullable(),
          capacity_reported_at: z.string().nullable(),
        }),
      )
      .describe('the facts each candidate was judged on'),
  },
  handler: async ({ services }, input) => {
    const plan = await services.placement.plan({
      moduleName: input.module_name,
      version: input.version,
      replicas: input.replicas,
      group: input.group,
      peers: input.peers,
      includeLocal: input.include_local,
      placement: input.placement,
    });
    const local = new Set(plan.candidates.filter((c) => c.local).map((c) => c.id));
    const ref = (p: { id: string; name: string }) => ({
      federation_peer_id: p.id,
      name: p.name,
      local: local.has(p.id),
    });
    const r = plan.result;
    return {
      module_name: plan.moduleVersion.moduleName,
      version: plan.moduleVersion.version,
      version_id: plan.moduleVersion.id,
      group: plan.group,
      strategy: r.strategy,
      replicas: r.replicas,
      feasible: r.feasible,
      unplaced: r.unplaced,
      reasons: r.reasons,
      shares: r.shares.map((s) => ({ ...ref(s.peer), replicas: s.replicas, score: s.score, why: s.why })),
      excluded: r.excluded.map((e) => ({ ...ref(e.peer), reasons: e.reasons })),
      peers: plan.candidates.map((c) => ({
        ...ref(c),
        region: c.region,
        status: c.status,
        group: c.group,
        capacity: c.capacity,
        held_by_other_deployments: c.heldByOthers,
        cost_per_instance: c.costPerInstance,
        capacity_reported_at: c.capacityReportedAt?.toISOString() ?? null,
      })),
    };
  },
});
