// Output shapes of the migration chain tools and the mapper from the service's view to them: the chain as
// this platform knows it, and per hop its status, gate and decision.
import { z } from 'zod';
import { safeText } from '../../src/domain/text.js';
import { HOP_STATUSES } from '../../src/domain/migration-chain.js';
import { isoTime } from '../../src/mcp/schemas.js';
import type { MigrationChainView } from '../../src/services/migration-chains-service.js';

export const migrationChainIdInput = safeText({ min: 1, max: 100 }).describe(
  'the migration chain id, as start_migration_chain or list_migration_chains shows it',
);

export const migrationView = z.object({
  kind: z.literal('publish_module_version'),
  module_name: z.string(),
  version: z.string(),
  digest: z.string(),
});

export const migrationHopView = z.object({
  hop_index: z.number().int().describe('0 is the origin, 1 the first peer of the path, and so on'),
  platform_name: z.string().describe('the platform as the hop before it names it (the origin: its own name)'),
  status: z
    .enum(HOP_STATUSES)
    .describe(
      'pending (not reached), awaiting_approval (waiting at its gate), applied, relayed (applied and passed on), rejected, failed',
    ),
  approval_request_id: z.string().nullable().describe('the gate on that hop’s platform (decide_approval there)'),
  decided_by: z.string().nullable().describe('who approved or rejected the gate (at the origin: who started it)'),
  decided_at: isoTime.nullable(),
  error: z.string().nullable().describe('why the hop was rejected or failed'),
  updated_at: isoTime,
});

export const migrationChainView = z.object({
  migration_chain_id: z.string(),
  state: z.enum(['in_progress', 'completed', 'stopped']).describe('stopped: a hop was rejected or failed'),
  origin: z.string().describe('the platform that started the chain'),
  hop_index: z.number().int().describe('this platform’s hop in the chain'),
  migration: migrationView,
  path: z.array(z.string()).describe('the peer names in hop order, as the origin gave them'),
  requested_by: z.string().describe('the operator the chain acts for on every hop'),
  hops: z.array(migrationHopView).describe('this hop and every hop after it, as far as reports have arrived'),
  created_at: isoTime,
  updated_at: isoTime,
});
export type MigrationChainOutput = z.infer<typeof migrationChainView>;

export function toMigrationChainView(v: MigrationChainView): MigrationChainOutput {
  return {
    migration_chain_id: v.chain.id,
    state: v.state,
    origin: v.chain.originName,
    hop_index: v.chain.hopIndex,
    migration: v.chain.migration,
    path: v.chain.path,
    requested_by: v.chain.requestedBy,
    hops: v.hops.map((h) => ({
      hop_index: h.hopIndex,
      platform_name: h.platformName,
      status: h.status,
      approval_request_id: h.approvalRequestId,
      decided_by: h.decidedBy,
      decided_at: h.decidedAt?.toISOString() ?? null,
      error: h.error,
      updated_at: h.updatedAt.toISOString(),
    })),
    created_at: v.chain.createdAt.toISOString(),
    updated_at: v.chain.updatedAt.toISOString(),
  };
}
