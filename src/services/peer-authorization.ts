// Steps 2–4 of authorizing an inbound peer call, after its signature: the peer's ingress boundary rules
// (checkBoundary), then a grant where the peer administers this platform as a managed child, else the
// local operator the call acts for (authorizeInbound). Decisions only: the dispatcher audits refusals.
import { CAPABILITY_ROLES, evaluateBoundary, scopesCovering, type Capability } from '../domain/capabilities.js';
import type { FederationPeer } from '../domain/federation.js';
import { roleAllows } from '../domain/roles.js';
import { ForbiddenError } from '../errors.js';
import { listBoundaryRules } from '../store/boundary-rules-repository.js';
import type { Db } from '../store/executor.js';
import { findActiveGrant } from '../store/grants-repository.js';
import { findOperatorByName } from '../store/operators-repository.js';
import { administersUs } from './grants-service.js';

/** Why an inbound call was refused after its signature was accepted. */
export type InboundRefusal = 'boundary_drop' | 'no_operator' | 'unknown_operator' | 'operator_role';

export interface InboundAuthorization {
  via: 'grant' | 'operator';
  grantId?: string;
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
 * Steps 3 and 4: a call from the parent of a managed child is authorized by an active, unexpired grant
 * this platform issued it covering `capability`; otherwise `onBehalfOf` must name an active local
 * operator whose role allows the capability. Throws ForbiddenError (403) with `details.reason`.
 */
export async function authorizeInbound(
  db: Db,
  peer: FederationPeer,
  capability: Capability,
  onBehalfOf: string | null,
  now: Date,
): Promise<InboundAuthorization> {
  if (administersUs(peer)) {
    const grant = await findActiveGrant(db, peer.id, 'issued', scopesCovering(capability), now);
    if (grant !== null) return { via: 'grant', grantId: grant.id };
  }
  const needed = CAPABILITY_ROLES[capability];
  const details = { capability, required_role: needed };
  if (onBehalfOf === null) {
    refuse(
      'no_operator',
      `federation peer ${peer.name} called ${capability} without naming an operator, and no grant covers it`,
      'make the call on behalf of an operator of this platform (on_behalf_of)',
      details,
    );
  }
  const operator = await findOperatorByName(db, onBehalfOf);
  if (operator === null || operator.revokedAt !== null) {
    refuse(
      'unknown_operator',
      `federation peer ${peer.name} called ${capability} on behalf of ${onBehalfOf}, who is not an active operator here`,
      `ask an admin of this platform to create operator ${onBehalfOf} with the ${needed} role`,
      { ...details, operator: onBehalfOf },
    );
  }
  if (!roleAllows(operator.role, needed)) {
    refuse(
      'operator_role',
      `${capability} needs the ${needed} role; operator ${operator.name} is ${operator.role}`,
      `ask an admin of this platform to give ${operator.name} the ${needed} role`,
      { ...details, operator: operator.name, operator_role: operator.role },
    );
  }
  return { via: 'operator', operator: operator.name };
}
