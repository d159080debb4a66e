// Peer identity bindings as admins manage them: bind a peer's operator to a local operator, list, and
// revoke. Each change is audited on the peer's log here, recorded as an event, and told to the peer
// through the outbox so its log records it too. Authorization reads the live binding on every call.
import { z } from 'zod';
import type { FederationPeer } from '../domain/federation.js';
import { isUuid, operatorNameSchema } from '../domain/names.js';
import { decodeTimeIdCursor, toPage, type Page } from '../domain/paging.js';
import type { PeerIdentityBinding } from '../domain/peer-identity.js';
import type { Caller } from '../domain/roles.js';
import { safeText } from '../domain/text.js';
import type { NewEvent } from '../domain/types.js';
import { ConflictError, InvalidInputError, NotFoundError } from '../errors.js';
import { appendEvent } from '../store/events-repository.js';
import type { Db } from '../store/executor.js';
import { findOperatorByName } from '../store/operators-repository.js';
import {
  findBindingById,
  insertBinding,
  listBindings,
  revokeBinding,
} from '../store/peer-identity-bindings-repository.js';
import { findPeerById } from '../store/peers-repository.js';
import type { AuditService } from './audit-service.js';
import type { ServiceDeps } from './context.js';
import type { PeerCalls } from './peer-calls.js';
import { requireRole } from './operators-service.js';

/** The protocol calls that tell a peer one of its operators was bound, or unbound, on this platform. */
export const IDENTITY_OPERATIONS = { bound: 'identity.bound', revoked: 'identity.revoked' } as const;

const identityChangeArgs = z.strictObject({
  binding_id: z.uuid(),
  /** The peer's own operator (the one it names in calls). */
  remote_operator: operatorNameSchema,
  /** The operator of the platform that bound it, whom that operator acts as there. */
  acts_as: operatorNameSchema,
});

const LIVE: readonly FederationPeer['status'][] = ['active', 'lost_contact'];

/** What the audit log, the events and the peer are told about a binding. */
function bindingPayload(b: PeerIdentityBinding): Record<string, unknown> {
  return {
    binding_id: b.id,
    remote_operator: b.remoteOperator,
    local_operator: b.localOperator,
    local_operator_role: b.localOperatorRole,
  };
}

function bindingEvent(kind: string, b: PeerIdentityBinding, actor: string, reason: string | null): NewEvent {
  return {
    kind,
    actor,
    payload: { ...bindingPayload(b), peer_id: b.federationPeerId, peer_name: b.peerName, reason },
  };
}

export class PeerIdentityService {
  private calls: PeerCalls | null = null;

  constructor(
    private readonly deps: ServiceDeps,
    private readonly audit: AuditService,
    private readonly resolvePeer: (ref: string) => Promise<FederationPeer>,
  ) {}

  /**
   * Registers the protocol calls by which a peer tells this platform it bound (or unbound) one of this
   * platform's operators, each recorded on that peer's log here; and sends them for changes made here.
   */
  attachPeerCalls(calls: PeerCalls): void {
    this.calls = calls;
    for (const [change, operation] of Object.entries(IDENTITY_OPERATIONS)) {
      calls.register({
        name: operation,
        capability: null,
        residencyKinds: [],
        args: identityChangeArgs,
        handle: async ({ db, peer, args }) => {
          await this.audit.append(
            peer.id,
            {
              actor: `peer:${peer.name}`,
              action: `federation.identity.remote_${change}`,
              payload: { binding_id: args.binding_id, operator: args.remote_operator, acts_there_as: args.acts_as },
            },
            db,
          );
          return { recorded: true };
        },
      });
    }
  }

  /**
   * Lets calls from `peerRef` naming its operator `remoteOperator` act here as the active local operator
   * `localOperator` (whose role still bounds what they may do). Audited on both sides.
   */
  async bind(
    caller: Caller,
    input: { peerRef: string; remoteOperator: string; localOperator: string; reason?: string },
  ): Promise<PeerIdentityBinding> {
    requireRole(caller, 'admin', 'binding a peer identity');
    const remote = checkName('remote_operator', input.remoteOperator);
    const reason = input.reason === undefined ? null : checkReason(input.reason);
    const peer = await this.resolvePeer(input.peerRef);
    if (!LIVE.includes(peer.status)) {
      throw new ConflictError(`federation peer ${peer.name} is ${peer.status}; bindings need an active peering`, {
        hint: 'list_federation_peers shows each peering’s status; finish the handshake first',
      });
    }
    const local = await findOperatorByName(this.deps.db, input.localOperator);
    if (local === null || local.revokedAt !== null) {
      throw new NotFoundError(`operator ${input.localOperator} is not an active operator of this platform`, {
        hint: 'list_operators shows them; create_operator makes one for the peer to act as',
      });
    }
    return this.deps.db.transaction().execute(async (trx) => {
      const now = this.deps.clock.now();
      const binding = await insertBinding(trx, {
        peerId: peer.id,
        remoteOperator: remote,
        localOperatorId: local.id,
        reason,
        createdBy: caller.name,
        at: now,
      });
      if (binding === null) {
        throw new ConflictError(`operator ${remote} of federation peer ${peer.name} is already bound here`, {
          hint: 'list_peer_identity_bindings shows it; revoke_peer_identity_binding first to bind it to someone else',
        });
      }
      await this.record(trx, peer, binding, 'bound', caller.name, reason, now);
      return binding;
    });
  }

  /** Ends a binding at once: calls naming its remote operator are refused from the next one on. */
  async revoke(caller: Caller, input: { bindingId: string; reason?: string }): Promise<PeerIdentityBinding> {
    requireRole(caller, 'admin', 'revoking a peer identity binding');
    const reason = input.reason === undefined ? null : checkReason(input.reason);
    const hint = 'list_peer_identity_bindings shows bindings by id';
    const existing = isUuid(input.bindingId) ? await findBindingById(this.deps.db, input.bindingId) : null;
    if (existing === null) throw new NotFoundError(`no peer identity binding ${input.bindingId}`, { hint });
    return this.deps.db.transaction().execute(async (trx) => {
      const now = this.deps.clock.now();
      const revoked = await revokeBinding(trx, existing.id, caller.name, now);
      if (revoked === null) {
        throw new ConflictError(`peer identity binding ${input.bindingId} is already revoked`, { hint });
      }
      const peer = (await findPeerById(trx, revoked.federationPeerId))!;
      await this.record(trx, peer, revoked, 'revoked', caller.name, reason, now);
      return revoked;
    });
  }

  /** Bindings oldest first, optionally one peer's (by id or name), live or revoked only; paged. */
  async list(opts: {
    peerRef?: string;
    status?: 'active' | 'revoked';
    limit: number;
    cursor?: string;
  }): Promise<Page<PeerIdentityBinding>> {
    const after = opts.cursor === undefined ? undefined : decodeTimeIdCursor(opts.cursor);
    const peer = opts.peerRef === undefined ? undefined : await this.resolvePeer(opts.peerRef);
    const rows = await listBindings(this.deps.db, {
      limit: opts.limit,
      ...(peer === undefined ? {} : { peerId: peer.id }),
      ...(opts.status === undefined ? {} : { live: opts.status === 'active' }),
      ...(after === undefined ? {} : { after }),
    });
    return toPage(rows, opts.limit, (b) => ({ created_at: b.createdAt.toISOString(), id: b.id }));
  }

  /** The change on this side's log for the peer, as an event, and in the outbox to the peer's log. */
  private async record(
    trx: Db,
    peer: FederationPeer,
    binding: PeerIdentityBinding,
    change: 'bound' | 'revoked',
    actor: string,
    reason: string | null,
    now: Date,
  ): Promise<void> {
    const action = `federation.identity.${change}`;
    await this.audit.append(peer.id, { actor, action, payload: { ...bindingPayload(binding), reason } }, trx);
    await appendEvent(trx, bindingEvent(action, binding, actor, reason), now);
    if (this.calls === null || !LIVE.includes(peer.status)) return; // a revoked peering has nobody to tell
    const args = { binding_id: binding.id, remote_operator: binding.remoteOperator, acts_as: binding.localOperator };
    await this.calls.enqueue(trx, peer, IDENTITY_OPERATIONS[change], args, { onBehalfOf: null, actor });
  }
}

function checkName(field: string, value: string): string {
  const parsed = operatorNameSchema.safeParse(value);
  if (!parsed.success) {
    throw new InvalidInputError(
      `${field} ${JSON.stringify(value)} is not an operator name: ${parsed.error.issues[0]!.message}`,
    );
  }
  return parsed.data;
}

function checkReason(value: string): string {
  const parsed = safeText({ min: 1, max: 500 }).safeParse(value);
  if (!parsed.success) throw new InvalidInputError(`reason ${parsed.error.issues[0]!.message}`);
  return parsed.data;
}
