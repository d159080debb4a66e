// Output shapes of the federation tools and the mappers from domain objects to them.
import { z } from 'zod';
import type { AuditEntry } from '../../src/domain/audit.js';
import { PEER_STATUSES, SPAWN_MODES, SPAWN_ROLES, type FederationPeer } from '../../src/domain/federation.js';
import { isoTime } from '../../src/mcp/schemas.js';

export const federationPeerIdInput = z
  .string()
  .min(1)
  .max(200)
  .describe('the peer id or its name, as list_federation_peers shows them');

export const federationPeerView = z.object({
  id: z.string(),
  name: z.string(),
  spawn_role: z.enum(SPAWN_ROLES).describe('role of this platform in the peering: parent proposed, child accepted'),
  spawn_mode: z.enum(SPAWN_MODES),
  status: z.enum(PEER_STATUSES),
  remote_platform_url: z.string().nullable(),
  contract_version: z.string().nullable(),
  region: z.string().nullable().describe('region of the remote platform'),
  last_heartbeat_at: isoTime.nullable(),
  created_at: isoTime,
});

export function toPeerView(p: FederationPeer): z.infer<typeof federationPeerView> {
  return {
    id: p.id,
    name: p.name,
    spawn_role: p.spawnRole,
    spawn_mode: p.spawnMode,
    status: p.status,
    remote_platform_url: p.remotePlatformUrl,
    contract_version: p.contractVersion,
    region: p.region,
    last_heartbeat_at: p.lastHeartbeatAt?.toISOString() ?? null,
    created_at: p.createdAt.toISOString(),
  };
}

export const auditEntryView = z.object({
  sequence: z.number().int(),
  action: z.string(),
  at: isoTime,
  actor: z.string(),
  payload: z.record(z.string(), z.unknown()),
  prev_hash: z.string(),
  hash: z.string(),
});

export function toAuditEntryView(e: AuditEntry): z.infer<typeof auditEntryView> {
  return {
    sequence: e.sequence,
    action: e.action,
    at: e.at.toISOString(),
    actor: e.actor,
    payload: e.payload,
    prev_hash: e.prevHash,
    hash: e.hash,
  };
}
