// Boundary rules, the federation firewall, as operators see them: create and delete (admin), list
// (viewer). Rules are per peer, ingress only, unique by priority; each change is audited on the peer's
// log in its transaction. Evaluating them for an inbound call is peer-authorization.ts's checkBoundary.
import {
  BOUNDARY_ACTIONS,
  CAPABILITIES,
  MAX_BOUNDARY_PRIORITY,
  type BoundaryAction,
  type BoundaryDirection,
  type BoundaryRule,
  type Capability,
} from '../domain/capabilities.js';
import type { FederationPeer } from '../domain/federation.js';
import { isUuid } from '../domain/names.js';
import { decodeCursor, toPage, type Page } from '../domain/paging.js';
import type { Caller } from '../domain/roles.js';
import { ConflictError, InvalidInputError, NotFoundError } from '../errors.js';
import {
  deleteBoundaryRule,
  findBoundaryRuleAt,
  insertBoundaryRule,
  listBoundaryRules,
} from '../store/boundary-rules-repository.js';
import { appendEvent } from '../store/events-repository.js';
import { findPeerById } from '../store/peers-repository.js';
import type { AuditService } from './audit-service.js';
import type { ServiceDeps } from './context.js';
import { requireRole } from './operators-service.js';

function rulePayload(rule: BoundaryRule): Record<string, unknown> {
  return {
    rule_id: rule.id,
    direction: rule.direction,
    action: rule.action,
    capability: rule.capability,
    priority: rule.priority,
  };
}

function duplicatePriority(ref: string, existing: BoundaryRule): ConflictError {
  return new ConflictError(
    `federation peer ${ref} already has ${existing.direction} rule ${existing.id} at priority ${existing.priority} (${existing.action} ${existing.capability})`,
    {
      hint: 'pick another priority, or delete_boundary_rule the existing rule first',
      details: { existing_rule_id: existing.id, priority: existing.priority },
    },
  );
}

export interface NewBoundaryRuleInput {
  peerRef: string;
  direction: BoundaryDirection;
  action: BoundaryAction;
  capability: Capability;
  priority: number;
}

export class BoundaryService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly audit: AuditService,
    private readonly resolvePeer: (ref: string) => Promise<FederationPeer>,
  ) {}

  async create(caller: Caller, input: NewBoundaryRuleInput): Promise<BoundaryRule> {
    requireRole(caller, 'admin', 'creating a boundary rule');
    if (input.direction !== 'ingress') {
      throw new InvalidInputError(`direction ${String(input.direction)} is not supported; boundary rules are ingress`);
    }
    if (!BOUNDARY_ACTIONS.includes(input.action)) {
      throw new InvalidInputError(`action must be one of ${BOUNDARY_ACTIONS.join(', ')}`);
    }
    if (!CAPABILITIES.includes(input.capability)) {
      throw new InvalidInputError(`unknown capability ${String(input.capability)}`, {
        hint: `capabilities are ${CAPABILITIES.join(', ')}`,
      });
    }
    if (!Number.isInteger(input.priority) || input.priority < 0 || input.priority > MAX_BOUNDARY_PRIORITY) {
      throw new InvalidInputError(`priority must be a whole number from 0 to ${MAX_BOUNDARY_PRIORITY}`);
    }
    const peer = await this.resolvePeer(input.peerRef);
    if (peer.status === 'revoked') {
      throw new ConflictError(`federation peer ${input.peerRef} is revoked; its boundary no longer carries calls`, {
        hint: 'list_boundary_rules and delete_boundary_rule still work to clean up its rules',
      });
    }
    return this.deps.db.transaction().execute(async (trx) => {
      const now = this.deps.clock.now();
      const rule = await insertBoundaryRule(trx, {
        peerId: peer.id,
        direction: input.direction,
        action: input.action,
        capability: input.capability,
        priority: input.priority,
        createdBy: caller.name,
        at: now,
      });
      if (rule === null) {
        const existing = await findBoundaryRuleAt(trx, peer.id, input.direction, input.priority);
        throw existing === null
          ? new ConflictError(`priority ${input.priority} was taken meanwhile on federation peer ${input.peerRef}`)
          : duplicatePriority(input.peerRef, existing);
      }
      await this.audit.append(
        peer.id,
        { actor: caller.name, action: 'federation.boundary_rule.created', payload: rulePayload(rule) },
        trx,
      );
      await appendEvent(
        trx,
        {
          kind: 'federation.boundary_rule.created',
          actor: caller.name,
          payload: { ...rulePayload(rule), peer_id: peer.id, peer_name: peer.name },
        },
        now,
      );
      return rule;
    });
  }

  /** A peer's ingress rules by ascending priority (the order they are evaluated in), paged. */
  async list(opts: {
    peerRef: string;
    limit: number;
    cursor?: string;
  }): Promise<{ peer: FederationPeer; page: Page<BoundaryRule> }> {
    let afterPriority: number | undefined;
    if (opts.cursor !== undefined) {
      const { priority } = decodeCursor(opts.cursor, ['priority']);
      if (!/^\d{1,10}$/.test(priority)) decodeCursor('', ['priority']); // throws the cursor error
      afterPriority = Number(priority);
    }
    const peer = await this.resolvePeer(opts.peerRef);
    const rows = await listBoundaryRules(this.deps.db, peer.id, 'ingress', {
      limit: opts.limit + 1,
      ...(afterPriority === undefined ? {} : { afterPriority }),
    });
    return { peer, page: toPage(rows, opts.limit, (r) => ({ priority: r.priority })) };
  }

  /** Deletes a rule (also of a revoked peer, to clean up); the audit log keeps its creation and deletion. */
  async delete(caller: Caller, ruleId: string): Promise<BoundaryRule> {
    requireRole(caller, 'admin', 'deleting a boundary rule');
    const hint = 'list_boundary_rules shows rules by id';
    if (!isUuid(ruleId)) throw new NotFoundError(`no boundary rule ${ruleId}`, { hint });
    return this.deps.db.transaction().execute(async (trx) => {
      const now = this.deps.clock.now();
      const rule = await deleteBoundaryRule(trx, ruleId);
      if (rule === null) throw new NotFoundError(`no boundary rule ${ruleId}`, { hint });
      await this.audit.append(
        rule.federationPeerId,
        { actor: caller.name, action: 'federation.boundary_rule.deleted', payload: rulePayload(rule) },
        trx,
      );
      const peer = await findPeerById(trx, rule.federationPeerId);
      await appendEvent(
        trx,
        {
          kind: 'federation.boundary_rule.deleted',
          actor: caller.name,
          payload: { ...rulePayload(rule), peer_id: rule.federationPeerId, peer_name: peer?.name ?? null },
        },
        now,
      );
      return rule;
    });
  }
}
