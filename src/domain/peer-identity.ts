// Peer identity bindings: the local operator a peer may act as when a call names one of its own
// operators. Types only: no I/O.
import type { Role } from './roles.js';

export const BINDING_STATUSES = ['active', 'revoked'] as const;
export type BindingStatus = (typeof BINDING_STATUSES)[number];

/** One binding: calls from `peerName` naming `remoteOperator` act here as `localOperator`. */
export interface PeerIdentityBinding {
  id: string;
  federationPeerId: string;
  peerName: string;
  remoteOperator: string;
  localOperatorId: string;
  localOperator: string;
  localOperatorRole: Role;
  /** False when the local operator was revoked since: the binding then authorizes nothing. */
  localOperatorActive: boolean;
  reason: string | null;
  createdBy: string;
  createdAt: Date;
  revokedAt: Date | null;
  revokedBy: string | null;
}

/** A binding's status as listings show it. */
export function bindingStatus(binding: PeerIdentityBinding): BindingStatus {
  return binding.revokedAt === null ? 'active' : 'revoked';
}
