// The inbound and outbound checks of signed peer calls, gathered from the services that own them:
// boundary rules and grants/operators (peer-authorization.ts), data residency (residency-service.ts).
import type { ResidencyDecision, ResourceKind } from '../domain/residency.js';
import type { FederationPeer } from '../domain/federation.js';
import type { Db } from '../store/executor.js';
import type { PeerCallGates } from './peer-calls.js';
import { authorizeInbound, checkBoundary } from './peer-authorization.js';

export interface ResidencyEnforcer {
  enforce(db: Db, peer: FederationPeer, kinds: readonly ResourceKind[], action: string): Promise<unknown>;
  preflight(peer: FederationPeer, kinds: readonly ResourceKind[], action: string): Promise<void>;
  check(peer: FederationPeer, kinds: readonly ResourceKind[]): Promise<ResidencyDecision>;
}

export function peerCallGates(residency: ResidencyEnforcer): PeerCallGates {
  return {
    boundary: (db, peer, capability) => checkBoundary(db, peer.id, capability).then(() => undefined),
    authorize: (db, peer, capability, onBehalfOf, now) => authorizeInbound(db, peer, capability, onBehalfOf, now),
    residency: (db, peer, kinds, action) => residency.enforce(db, peer, kinds, action).then(() => undefined),
    residencyPreflight: (peer, kinds, action) => residency.preflight(peer, kinds, action),
    residencyCheck: (peer, kinds) => residency.check(peer, kinds),
  };
}
