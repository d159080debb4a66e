// Output shape of the peer identity binding tools and the mapper from the domain object to it.
import { z } from 'zod';
import { BINDING_STATUSES, bindingStatus, type PeerIdentityBinding } from '../../src/domain/peer-identity.js';
import { ROLES } from '../../src/domain/roles.js';
import { isoTime } from '../../src/mcp/schemas.js';

export const peerIdentityBindingView = z.object({
  id: z.string(),
  federation_peer_id: z.string(),
  peer_name: z.string(),
  remote_operator: z.string().describe('the peer’s operator, as its calls name it (on_behalf_of)'),
  local_operator: z.string().describe('the operator of this platform those calls act as'),
  local_operator_role: z.enum(ROLES),
  local_operator_active: z
    .boolean()
    .describe('false once the local operator was revoked: the binding then allows nothing'),
  status: z.enum(BINDING_STATUSES),
  reason: z.string().nullable(),
  created_by: z.string(),
  created_at: isoTime,
  revoked_at: isoTime.nullable(),
  revoked_by: z.string().nullable(),
});

export function toBindingView(b: PeerIdentityBinding): z.infer<typeof peerIdentityBindingView> {
  return {
    id: b.id,
    federation_peer_id: b.federationPeerId,
    peer_name: b.peerName,
    remote_operator: b.remoteOperator,
    local_operator: b.localOperator,
    local_operator_role: b.localOperatorRole,
    local_operator_active: b.localOperatorActive,
    status: bindingStatus(b),
    reason: b.reason,
    created_by: b.createdBy,
    created_at: b.createdAt.toISOString(),
    revoked_at: b.revokedAt?.toISOString() ?? null,
    revoked_by: b.revokedBy,
  };
}
