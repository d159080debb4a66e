// What a federation peer may ask of this platform: capabilities, the grant scopes that cover them, the
// local role each needs when an operator's name authorizes the call, and the boundary-rule evaluation.
// Types and pure functions only: no I/O.
import type { Role } from './roles.js';

export const CAPABILITIES = [
  'versions.read',
  'inventory.read',
  'rollouts.request',
  'rollouts.control',
  'deployments.assign',
  'migrations.relay',
  'audit.read',
  '*',
] as const;
export type Capability = (typeof CAPABILITIES)[number];

export function isCapability(value: string): value is Capability {
  return (CAPABILITIES as readonly string[]).includes(value);
}

export const GRANT_SCOPES = ['read', 'write', 'admin'] as const;
export type GrantScope = (typeof GRANT_SCOPES)[number];

const READ: readonly Capability[] = ['versions.read', 'inventory.read', 'audit.read'];
const WRITE: readonly Capability[] = [
  ...READ,
  'rollouts.request',
  'rollouts.control',
  'deployments.assign',
  'migrations.relay',
];

/** The capabilities each grant scope covers: read ⊂ write ⊂ admin, and only admin covers `*`. */
export const SCOPE_CAPABILITIES: Readonly<Record<GrantScope, readonly Capability[]>> = {
  read: READ,
  write: WRITE,
  admin: CAPABILITIES,
};

/** True when any of `scopes` covers `capability`. */
export function scopesCover(scopes: readonly GrantScope[], capability: Capability): boolean {
  return scopes.some((scope) => SCOPE_CAPABILITIES[scope].includes(capability));
}

/** The scopes that cover `capability` (a grant holding any of them authorizes it). */
export function scopesCovering(capability: Capability): GrantScope[] {
  return GRANT_SCOPES.filter((scope) => SCOPE_CAPABILITIES[scope].includes(capability));
}

/** The local role an operator needs for a peer to act on its behalf with `capability`. */
export const CAPABILITY_ROLES: Readonly<Record<Capability, Role>> = {
  'versions.read': 'viewer',
  'inventory.read': 'viewer',
  'audit.read': 'viewer',
  'rollouts.request': 'operator',
  'rollouts.control': 'operator',
  'deployments.assign': 'operator',
  'migrations.relay': 'operator',
  '*': 'admin',
};

/** The operator scope a managed child grants its parent at the handshake, and for how long. */
export const MANAGED_CHILD_SCOPES: readonly GrantScope[] = ['read', 'write', 'admin'];
export const MANAGED_CHILD_GRANT_TTL_DAYS = 365;

export const GRANT_DIRECTIONS = ['issued', 'received'] as const;
/** issued: this platform granted the peer rights here (enforced); received: the peer granted us (a mirror). */
export type GrantDirection = (typeof GRANT_DIRECTIONS)[number];

export const GRANT_STATUSES = ['active', 'revoked', 'archived'] as const;
export type GrantStatus = (typeof GRANT_STATUSES)[number];

export interface FederationGrant {
  id: string;
  federationPeerId: string;
  peerName: string;
  direction: GrantDirection;
  scopes: GrantScope[];
  status: GrantStatus;
  expiresAt: Date;
  issuedBy: string;
  reason: string | null;
  createdAt: Date;
  revokedAt: Date | null;
  revokedBy: string | null;
  archivedAt: Date | null;
}

/** The scopes sorted in their canonical order, duplicates removed. */
export function normaliseScopes(scopes: readonly GrantScope[]): GrantScope[] {
  return GRANT_SCOPES.filter((scope) => scopes.includes(scope));
}

/** True when `grant` authorizes `capability` at `now`: active, not expired, a scope covering it. */
export function grantAuthorizes(grant: FederationGrant, capability: Capability, now: Date): boolean {
  return grant.status === 'active' && grant.expiresAt > now && scopesCover(grant.scopes, capability);
}

export const BOUNDARY_DIRECTIONS = ['ingress'] as const;
export type BoundaryDirection = (typeof BOUNDARY_DIRECTIONS)[number];

export const BOUNDARY_ACTIONS = ['drop', 'accept'] as const;
export type BoundaryAction = (typeof BOUNDARY_ACTIONS)[number];

/** The largest boundary rule priority (the column is a 4-byte integer). */
export const MAX_BOUNDARY_PRIORITY = 2_147_483_647;

/** One boundary rule: calls from the peer asking for `capability` (or any, for `*`) are dropped or accepted. */
export interface BoundaryRule {
  id: string;
  federationPeerId: string;
  direction: BoundaryDirection;
  action: BoundaryAction;
  capability: Capability;
  /** Lower numbers are evaluated first; unique per peer and direction. */
  priority: number;
  createdBy: string;
  createdAt: Date;
}

export interface BoundaryDecision {
  action: BoundaryAction;
  /** The rule that decided, or null when none matched (no rules, or no match: accepted). */
  rule: string | null;
}

/**
 * Evaluates boundary rules for one capability: by ascending priority, the first rule whose capability is
 * `*` or equal wins. No rules, or no rule matching, accepts.
 */
export function evaluateBoundary(
  rules: readonly Pick<BoundaryRule, 'id' | 'action' | 'capability' | 'priority'>[],
  capability: Capability,
): BoundaryDecision {
  const ordered = [...rules].sort((a, b) => a.priority - b.priority);
  const match = ordered.find((rule) => rule.capability === '*' || rule.capability === capability);
  return match === undefined ? { action: 'accept', rule: null } : { action: match.action, rule: match.id };
}
