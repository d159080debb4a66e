// Steps 2–4 of authorizing an inbound peer call, after its signature: the peer's ingress boundary rules
// (checkBoundary), then a grant for an operator-less call from a managed child's parent, else the local
// operator bound to the peer's named operator (authorizeInbound). Decisions only: the dispatcher audits refusals.
import { CAPABILITY_ROLES, evaluateBoundary, scopesCovering, type Capability } from '../domain/capabilities.js';
import type { FederationPeer } from '../domain/federation.js';
import { roleAllows } from '../domain/roles.js';
import { ForbiddenError } from '../errors.js';
import { listBoundaryRules } from '../store/boundary-rules-repository.js';
import type { Db } from '../store/executor.js';
import { findActiveGrant } from '../store/grants-repository.js';
import { findLiveBinding } from '../store/peer-identity-bindings-repository.js';
import { administersUs } from './grants-service.js';

/** Why an inbound call was refused after its signature was accepted. */
export type InboundRefusal =
  'boundary_drop' | 'no_operator' | 'unbound_operator' | 'unknown_operator' | 'operator_role';

export interface InboundAuthorization {
  via: 'grant' | 'operator';
  grantId?: string;
  /** The local operator the call acts as (the binding's), for `via: 'operator'`. */
  operator?: string;
}

function refuse(reason: InboundRefusal, message: string, hint: string, details: Record<string, unknown>): never {
  throw new ForbiddenError(message, { hint, details: { reason, ...details } });
}

/**
 * Step 2: evaluates the peer's ingress boundary rules for `capability`; throws ForbiddenError (reason
 * `boundary_drop`, naming the rule) when a drop rule decides. Protocol calls (no capability) skip this.
 */
export async function checkBoundary(db: Db, peerId: string, capability: Capability): Promise<void> {
  const rules = await listBoundaryRules(db, peerId, 'ingress');
  const decision = evaluateBoundary(rules, capability);
  if (decision.action === 'accept') return;
  const rule = rules.find((r) => r.id === decision.rule)!;
  refuse(
    'boundary_drop',
    `boundary rule ${rule.id} (priority ${rule.priority}, drop ${rule.capability}) drops ${capability} from this peer`,
    'ask the operator of the called platform to add an accept rule at a lower priority number (create_boundary_rule)',
    { capability, rule_id: rule.id, priority: rule.priority },
  );
}

/**
 * Steps 3 and 4: a call naming no operator is authorized only by an active, unexpired grant this platform
 * issued to the parent that administers it as a managed child. A call naming one of the peer's operators
 * acts as the local operator an admin bound to that (peer, operator) pair — never as a local operator of
 * the same name — and that operator must be active with a role allowing the capability. Throws
 * ForbiddenError (403) with `details.reason`.
 */
export async function authorizeInbound(
  db: Db,
  peer: FederationPeer,
  capability: Capability,
  onBehalfOf: string | null,
  now: Date,
): Promise<InboundAuthorization> {
  const needed = CAPABILITY_ROLES[capability];
  const details = { capability, required_role: needed };
  if (onBehalfOf === null) {
    if (administersUs(peer)) {
      const grant = await findActiveGrant(db, peer.id, 'issued', scopesCovering(capability), now);
      if (grant !== null) return { via: 'grant', grantId: grant.id };
    }
    refuse(
      'no_operator',
      `federation peer ${peer.name} called ${capability} without naming an operator, and no grant covers it`,
      'make the call on behalf of an operator bound on this platform (on_behalf_of)',
      details,
    );
  }
  const binding = await findLiveBinding(db, peer.id, onBehalfOf);
  if (binding === null) {
    refuse(
      'unbound_operator',
      `federation peer ${peer.name} called ${capability} on behalf of ${onBehalfOf}, who is not an active operator here: no admin bound ${onBehalfOf} of ${peer.name} to an operator of this platform`,
      `an admin of this platform can bind it with create_peer_identity_binding (federation_peer_id ${peer.name}, remote_operator ${onBehalfOf}, local_operator: an operator with the ${needed} role)`,
      { ...details, operator: onBehalfOf },
    );
  }
  if (!binding.localOperatorActive) {
    refuse(
      'unknown_operator',
      `federation peer ${peer.name} called ${capability} on behalf of ${onBehalfOf}, bound to ${binding.localOperator}, who is no longer an active operator here`,
      `ask an admin of this platform to bind ${onBehalfOf} to an active operator (revoke_peer_identity_binding, then create_peer_identity_binding)`,
      { ...details, operator: onBehalfOf, local_operator: binding.localOperator },
    );
  }
  if (!roleAllows(binding.localOperatorRole, needed)) {
    refuse(
      'operator_role',
      `${capability} needs the ${needed} role; operator ${binding.localOperator} is ${binding.localOperatorRole} (bound to ${onBehalfOf} of ${peer.name})`,
      `ask an admin of this platform to give ${binding.localOperator} the ${needed} role, or bind ${onBehalfOf} to an operator who has it`,
      {
        ...details,
        operator: onBehalfOf,
        local_operator: binding.localOperator,
        operator_role: binding.localOperatorRole,
      },
    );
  }
  return { via: 'operator', operator: binding.localOperator };
}
