// Signed calls between peers after the handshake: POST /federation/v1/calls/<operation>.
// Inbound, in this order: the signature of an active peer; the boundary rules (not for protocol calls);
// grants or the local operator the call acts for; data residency for what the answer carries; then the
// operation, applied once per idempotency key. Outbound: `request` signs and sends now (reads), `enqueue`
// writes the call to the outbox in the caller's transaction and the reconciler delivers it with retries.
import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import type { Capability } from '../domain/capabilities.js';
import type { FederationPeer } from '../domain/federation.js';
import {
  callEnvelopeSchema,
  isFinalAnswer,
  MAX_OUTBOX_ATTEMPTS,
  OPERATION_NAME,
  OUTBOX_LEASE_MS,
  outboxBackoffMs,
  type CallEnvelope,
} from '../domain/peer-calls.js';
import {
  kindsCarried,
  OUTBOUND_OPERATIONS,
  type OutboundDeclaration,
  type OutboundOperation,
} from '../domain/outbound-operations.js';
import { decodeTimeIdCursor, toPage, type Page } from '../domain/paging.js';
import { canonicalKinds, type ResidencyDecision, type ResourceKind } from '../domain/residency.js';
import { ConflictError, FlotillaError, InvalidInputError, NotFoundError } from '../errors.js';
import { peerError, refusalError, type PeerAnswer } from '../federation/peer-client.js';
import { appendEvent } from '../store/events-repository.js';
import type { Db } from '../store/executor.js';
import {
  claimDueOutboxEntries,
  claimInboxKey,
  deferOutboxEntry,
  findInboxEntry,
  findPendingOutboxEntry,
  finishOutboxEntry,
  insertOutboxEntry,
  listOutboxEntries,
  recordPeerContact,
  setInboxResponse,
  type OutboxEntry,
  type OutboxStatus,
} from '../store/peer-calls-repository.js';
import { findPeerById } from '../store/peers-repository.js';
import type { AuditService } from './audit-service.js';
import type { ServiceDeps } from './context.js';
import type { InboundRequest, PeerProtocol } from './peer-protocol.js';

/** What a peer operation's handler is given. `db` is the transaction that records its idempotency key. */
export interface PeerCallContext<A> {
  db: Db;
  peer: FederationPeer;
  /**
   * The local operator the call acts as: the one an admin bound to the operator the peer named. Null for
   * protocol calls and calls a grant authorized without an operator.
   */
  onBehalfOf: string | null;
  args: A;
  idempotencyKey: string | null;
  now: Date;
}

/** One operation peers may call on this platform. */
export interface PeerOperation<A = unknown> {
  name: string;
  /** null: a protocol call (heartbeat, grant changes), exempt from boundary rules and operator checks. */
  capability: Capability | null;
  /** Kinds of data its answer carries to the calling peer: checked against data residency first. */
  residencyKinds: readonly ResourceKind[];
  args: z.ZodType<A>;
  /** false: not written to the audit log (heartbeats, which carry the log's head instead). */
  audited?: boolean;
  handle(ctx: PeerCallContext<A>): Promise<unknown>;
}

/** The checks other services own, called by the inbound pipeline and before anything is sent. */
export interface PeerCallGates {
  /** Throws ForbiddenError when the peer's ingress boundary drops `capability`. */
  boundary(db: Db, peer: FederationPeer, capability: Capability): Promise<void>;
  /**
   * Throws ForbiddenError unless a grant, or the local operator bound to the peer's named operator, allows
   * `capability`; answers the local operator the call then acts as (none for a grant).
   */
  authorize(
    db: Db,
    peer: FederationPeer,
    capability: Capability,
    onBehalfOf: string | null,
    now: Date,
  ): Promise<{ operator?: string }>;
  /** Throws (and audits) when sending `kinds` to `peer` would break its data residency policy. */
  residency(db: Db, peer: FederationPeer, kinds: readonly ResourceKind[], action: string): Promise<void>;
  /** Throws (and audits, outside any transaction) when a transfer of `kinds` could not get through. */
  residencyPreflight(peer: FederationPeer, kinds: readonly ResourceKind[], action: string): Promise<void>;
  /** Whether sending `kinds` to `peer` keeps its policy now; reads only. */
  residencyCheck(peer: FederationPeer, kinds: readonly ResourceKind[]): Promise<ResidencyDecision>;
}

declare const declaredOperation: unique symbol;
/** An operation outside OUTBOUND_OPERATIONS that `declareOutbound` declared with its kinds. */
export type DeclaredOperation = string & { readonly [declaredOperation]: true };
/** What `request` and `enqueue` accept: a declared operation, never a bare string. */
export type SendableOperation = OutboundOperation | DeclaredOperation;

/** Runs in the transaction that marks an outbox entry delivered or failed. */
export type SettledHook = (db: Db, entry: OutboxEntry, outcome: 'delivered' | 'failed') => Promise<void>;

export interface SendOptions {
  /** The local operator the call acts for; the peer matches it by name. */
  onBehalfOf: string | null;
  /** Who is sending, for the audit log: the operator, or a system actor. */
  actor?: string;
  /** false: not written to the audit log (heartbeats). */
  audited?: boolean;
  /**
   * enqueue only: when the same call (operation, arguments, on_behalf_of) is still pending to this peer,
   * answer that entry and queue nothing, so an idempotent call repeated every tick while a peer is away
   * is sent once when it answers again.
   */
  coalesce?: boolean;
}

const LIVE: readonly FederationPeer['status'][] = ['active', 'lost_contact'];

export class PeerCalls {
  private readonly operations = new Map<string, PeerOperation<never>>();
  private readonly settledHooks = new Map<string, SettledHook>();
  /** What each operation this platform may send carries: OUTBOUND_OPERATIONS and those declared since. */
  private readonly outbound = new Map<string, OutboundDeclaration>(Object.entries(OUTBOUND_OPERATIONS));

  constructor(
    private readonly deps: ServiceDeps,
    private readonly audit: AuditService,
    private readonly protocol: PeerProtocol,
    private readonly gates: PeerCallGates,
    private readonly random: () => number = Math.random,
  ) {}

  register<A>(operation: PeerOperation<A>): void {
    if (!OPERATION_NAME.test(operation.name)) throw new Error(`bad peer operation name ${operation.name}`);
    if (this.operations.has(operation.name)) throw new Error(`peer operation ${operation.name} registered twice`);
    this.operations.set(operation.name, operation as PeerOperation<never>);
  }

  /**
   * Declares an operation outside OUTBOUND_OPERATIONS (an extension, a test) with the kinds it carries,
   * so that it can be sent; answers its name as `request` and `enqueue` accept it.
   */
  declareOutbound(name: string, declaration: OutboundDeclaration): DeclaredOperation {
    if (!OPERATION_NAME.test(name)) throw new Error(`bad peer operation name ${name}`);
    if (this.outbound.has(name)) throw new Error(`outbound peer operation ${name} declared twice`);
    this.outbound.set(name, declaration);
    return name as DeclaredOperation;
  }

  /** Called when an outbox entry of `operation` settles (delivered, or failed for good). */
  onSettled(operation: string, hook: SettledHook): void {
    this.settledHooks.set(operation, hook);
  }

  // ---- inbound ----------------------------------------------------------------------------------

  /** Authenticates, authorizes and applies one inbound call; the answer is the HTTP 200 body. */
  async handleInbound(name: string, request: InboundRequest): Promise<unknown> {
    const operation = this.operations.get(name) as PeerOperation<unknown> | undefined;
    const peer = await this.protocol.authenticate(request, LIVE, name);
    if (operation === undefined) {
      throw await this.refuse(peer, name, null, new NotFoundError(`this platform has no peer operation ${name}`));
    }
    const envelope = parseEnvelope(request.body);
    if (!envelope.ok) throw await this.refuse(peer, name, null, envelope.error);
    const { on_behalf_of: onBehalfOf, idempotency_key: key } = envelope.value;
    const parsed = operation.args.safeParse(envelope.value.args);
    if (!parsed.success) throw await this.refuse(peer, name, onBehalfOf, argsError(name, parsed.error));
    const now = this.deps.clock.now();
    const db = this.deps.db;
    // The local operator the call acts as: the one bound to the peer's named operator, never its name.
    let actingAs: string | null = null;
    if (operation.capability !== null) {
      try {
        await this.gates.boundary(db, peer, operation.capability);
        actingAs = (await this.gates.authorize(db, peer, operation.capability, onBehalfOf, now)).operator ?? null;
      } catch (err) {
        throw err instanceof FlotillaError ? await this.refuse(peer, name, onBehalfOf, err) : err;
      }
    }
    // Residency audits its own refusals, outside the operation's transaction so they persist.
    if (operation.residencyKinds.length > 0) await this.gates.residency(db, peer, operation.residencyKinds, name);
    await this.heardFrom(peer, now);

    const record = operation.audited !== false;
    const apply = async (trx: Db): Promise<{ answer: unknown; duplicate: boolean }> => {
      if (key !== null && !(await claimInboxKey(trx, peer.id, key, name, now))) {
        const stored = await findInboxEntry(trx, peer.id, key);
        if (stored?.operation !== name) {
          throw new ConflictError(`idempotency key ${key} was already used for ${stored?.operation ?? 'another call'}`);
        }
        return { answer: stored.response, duplicate: true };
      }
      const answer = await operation.handle({
        db: trx,
        peer,
        onBehalfOf: actingAs,
        args: parsed.data,
        idempotencyKey: key,
        now,
      });
      if (key !== null) await setInboxResponse(trx, peer.id, key, answer);
      if (record) {
        await this.audit.append(
          peer.id,
          {
            actor: actorOf(peer, onBehalfOf),
            action: 'peer.call.received',
            payload: {
              operation: name,
              on_behalf_of: onBehalfOf,
              acting_as: actingAs,
              idempotency_key: key,
              outcome: 'applied',
            },
          },
          trx,
        );
      }
      return { answer, duplicate: false };
    };
    try {
      const { answer } = key === null ? await apply(db) : await db.transaction().execute(apply);
      return answer;
    } catch (err) {
      if (err instanceof FlotillaError && err.code !== 'unavailable')
        throw await this.refuse(peer, name, onBehalfOf, err);
      throw err;
    }
  }

  /** Audits an inbound refusal on the peer's log and hands the error back to throw. */
  private async refuse(
    peer: FederationPeer,
    operation: string,
    onBehalfOf: string | null,
    err: FlotillaError,
  ): Promise<FlotillaError> {
    await this.audit.append(peer.id, {
      actor: actorOf(peer, onBehalfOf),
      action: 'peer.call.refused',
      payload: {
        operation,
        on_behalf_of: onBehalfOf,
        code: err.code,
        reason: typeof err.details?.reason === 'string' ? err.details.reason : err.code,
        message: err.message,
      },
    });
    this.deps.logger.warn({ peerId: peer.id, operation, code: err.code }, 'peer call refused');
    return err;
  }

  /** The peer spoke: contact noted, and a lost peer is back. */
  async heardFrom(peer: FederationPeer, at: Date, rttMs?: number): Promise<void> {
    await this.deps.db.transaction().execute(async (trx) => {
      const { recovered } = await recordPeerContact(trx, peer.id, at, rttMs);
      if (recovered !== null) {
        await appendEvent(
          trx,
          {
            kind: 'federation.peer.recovered',
            actor: 'system',
            payload: { peer_id: peer.id, name: peer.name, lost_since: peer.lastHeartbeatAt?.toISOString() ?? null },
          },
          at,
        );
      }
    });
  }

  /** Outbox entries, newest first, of one peer or all; paged. */
  async listOutbox(opts: {
    peer?: FederationPeer;
    status?: OutboxStatus;
    limit: number;
    cursor?: string;
  }): Promise<Page<OutboxEntry>> {
    const before = opts.cursor === undefined ? undefined : decodeTimeIdCursor(opts.cursor);
    const rows = await listOutboxEntries(this.deps.db, {
      limit: opts.limit,
      ...(opts.peer === undefined ? {} : { peerId: opts.peer.id }),
      ...(opts.status === undefined ? {} : { status: opts.status }),
      ...(before === undefined ? {} : { before }),
    });
    return toPage(rows, opts.limit, (e) => ({ created_at: e.createdAt.toISOString(), id: e.id }));
  }

  // ---- outbound ---------------------------------------------------------------------------------

  /**
   * Signs and sends `operation` to `peer` now and answers its JSON. Refused before anything is sent when
   * the peering is not live or the arguments carry data the peer's residency policy keeps here.
   */
  async request(
    peer: FederationPeer,
    operation: SendableOperation,
    args: Record<string, unknown>,
    opts: SendOptions,
  ): Promise<unknown> {
    requireLive(peer);
    const kinds = this.carried(operation, args);
    if (kinds.length > 0) await this.gates.residency(this.deps.db, peer, kinds, operation);
    const envelope: CallEnvelope = { to: addressOf(peer), on_behalf_of: opts.onBehalfOf, idempotency_key: null, args };
    const started = performance.now();
    let answer: PeerAnswer;
    try {
      answer = await this.post(peer, operation, envelope);
    } catch (err) {
      if (opts.audited !== false) {
        await this.auditSent(peer, operation, opts, { outcome: 'unreachable', error: (err as Error).message });
      }
      throw err;
    }
    const ok = answer.status >= 200 && answer.status < 300;
    if (opts.audited !== false)
      await this.auditSent(peer, operation, opts, ok ? { outcome: 'ok' } : refusalPayload(answer));
    if (!ok) throw remoteRefusal(peer, operation, answer);
    await this.heardFrom(peer, this.deps.clock.now(), performance.now() - started);
    return answer.json;
  }

  /**
   * Puts `operation` in the outbox, in the caller's transaction `db`, with a fresh idempotency key. The
   * reconciler delivers it; the peer applies it once however often it is retried.
   */
  async enqueue(
    db: Db,
    peer: FederationPeer,
    operation: SendableOperation,
    args: Record<string, unknown>,
    opts: SendOptions,
  ): Promise<OutboxEntry> {
    requireLive(peer);
    const kinds = this.carried(operation, args);
    if (kinds.length > 0) await this.gates.residency(db, peer, kinds, operation);
    if (opts.coalesce === true) {
      const pending = await findPendingOutboxEntry(db, {
        peerId: peer.id,
        operation,
        onBehalfOf: opts.onBehalfOf,
        args,
      });
      if (pending !== null) return pending;
    }
    const now = this.deps.clock.now();
    const entry = await insertOutboxEntry(db, {
      peerId: peer.id,
      operation,
      idempotencyKey: randomUUID(),
      onBehalfOf: opts.onBehalfOf,
      args,
      createdBy: opts.actor ?? opts.onBehalfOf ?? 'system',
      at: now,
    });
    await this.audit.append(
      peer.id,
      {
        actor: entry.createdBy,
        action: 'peer.call.queued',
        payload: {
          operation,
          on_behalf_of: opts.onBehalfOf,
          idempotency_key: entry.idempotencyKey,
          outbox_id: entry.id,
        },
      },
      db,
    );
    return entry;
  }

  /**
   * Before a call is queued inside a transaction (where a refusal's audit would roll back): refuses it
   * now, audited, when the peer's data residency policy keeps what it carries here and no override waits.
   */
  async preflight(peer: FederationPeer, operation: SendableOperation, args: Record<string, unknown>): Promise<void> {
    const kinds = this.carried(operation, args);
    if (kinds.length > 0) await this.gates.residencyPreflight(peer, kinds, operation);
  }

  /** Whether `operation` with `args` may go to `peer` now under its residency policy; reads only. */
  async allows(peer: FederationPeer, operation: SendableOperation, args: Record<string, unknown>): Promise<boolean> {
    const kinds = this.carried(operation, args);
    return kinds.length === 0 || (await this.gates.residencyCheck(peer, kinds)).allowed;
  }

  /**
   * `args` without the optional parts of `operation` whose kinds the peer's residency policy keeps here
   * (a heartbeat without capacity), with the kinds and fields so withheld. Reads only: uses no override,
   * audits nothing.
   */
  async withhold(
    peer: FederationPeer,
    operation: SendableOperation,
    args: Record<string, unknown>,
  ): Promise<{ args: Record<string, unknown>; withheld: ResourceKind[]; fields: string[] }> {
    const parts = this.declaration(operation).parts ?? {};
    const kept: Record<string, unknown> = { ...args };
    const withheld = new Set<ResourceKind>();
    const fields: string[] = [];
    for (const [field, kinds] of Object.entries(parts)) {
      if (args[field] === undefined || kinds.length === 0) continue;
      const decision = await this.gates.residencyCheck(peer, kinds);
      if (decision.allowed) continue;
      delete kept[field];
      fields.push(field);
      for (const k of decision.leaving) withheld.add(k);
    }
    return { args: kept, withheld: canonicalKinds([...withheld]), fields };
  }

  private declaration(operation: string): OutboundDeclaration {
    const declared = this.outbound.get(operation);
    if (declared === undefined) {
      throw new InvalidInputError(`${operation} is not an outbound peer operation of this platform; nothing was sent`, {
        hint: 'every operation sent to a peer is declared, with the data kinds it carries, in OUTBOUND_OPERATIONS',
      });
    }
    return declared;
  }

  private carried(operation: string, args: Record<string, unknown>): ResourceKind[] {
    return kindsCarried(this.declaration(operation), args);
  }

  /** Delivers due outbox entries (a reconciler step); answers how many settled. */
  async deliverDue(now: Date, limit = 50): Promise<number> {
    const claimed = await claimDueOutboxEntries(this.deps.db, now, limit, OUTBOX_LEASE_MS);
    const settled = await Promise.all(claimed.map((entry) => this.deliver(entry)));
    return settled.filter(Boolean).length;
  }

  private async deliver(entry: OutboxEntry): Promise<boolean> {
    const peer = await findPeerById(this.deps.db, entry.federationPeerId);
    if (peer === null || peer.status === 'revoked' || peer.remotePlatformUrl === null) {
      return this.settle(
        entry,
        'failed',
        null,
        null,
        `federation peer ${peer?.name ?? entry.federationPeerId} is revoked`,
      );
    }
    const envelope: CallEnvelope = {
      to: addressOf(peer),
      on_behalf_of: entry.onBehalfOf,
      idempotency_key: entry.idempotencyKey,
      args: entry.args,
    };
    let answer: PeerAnswer | null = null;
    let error: string;
    const started = performance.now();
    try {
      answer = await this.post(peer, entry.operation, envelope);
      error = answer.status < 300 ? '' : `${answer.status} ${peerError(answer).code}: ${peerError(answer).message}`;
    } catch (err) {
      error = (err as Error).message;
    }
    const now = this.deps.clock.now();
    if (answer !== null && isFinalAnswer(answer.status)) {
      const ok = answer.status < 300;
      if (ok) await this.heardFrom(peer, now, performance.now() - started);
      return this.settle(entry, ok ? 'delivered' : 'failed', answer.status, answer.json, ok ? null : error);
    }
    if (entry.attempts >= MAX_OUTBOX_ATTEMPTS) {
      return this.settle(
        entry,
        'failed',
        answer?.status ?? null,
        answer?.json ?? null,
        `gave up after ${entry.attempts} attempts: ${error}`,
      );
    }
    const next = new Date(now.getTime() + outboxBackoffMs(entry.attempts, this.random()));
    await deferOutboxEntry(this.deps.db, entry.id, next, error, now);
    this.deps.logger.info(
      { peerId: peer.id, operation: entry.operation, attempts: entry.attempts, next },
      'peer call retried later',
    );
    return false;
  }

  private async settle(
    entry: OutboxEntry,
    status: 'delivered' | 'failed',
    responseStatus: number | null,
    response: unknown,
    error: string | null,
  ): Promise<boolean> {
    return this.deps.db.transaction().execute(async (trx) => {
      const now = this.deps.clock.now();
      const done = await finishOutboxEntry(trx, entry.id, { status, responseStatus, response, error }, now);
      if (done === null) return false; // another replica settled it first
      await this.audit.append(
        entry.federationPeerId,
        {
          actor: entry.createdBy,
          action: status === 'delivered' ? 'peer.call.delivered' : 'peer.call.failed',
          payload: {
            operation: entry.operation,
            idempotency_key: entry.idempotencyKey,
            attempts: entry.attempts,
            response_status: responseStatus,
            ...(error === null ? {} : { error: error.slice(0, 500) }),
          },
        },
        trx,
      );
      await this.settledHooks.get(entry.operation)?.(trx, done, status);
      return true;
    });
  }

  private async post(peer: FederationPeer, operation: string, envelope: CallEnvelope): Promise<PeerAnswer> {
    const signer = await this.protocol.signer();
    return this.protocol.client.post(peer.remotePlatformUrl!, `/federation/v1/calls/${operation}`, envelope, {
      signer,
      now: this.deps.clock.now(),
    });
  }

  private async auditSent(
    peer: FederationPeer,
    operation: string,
    opts: SendOptions,
    outcome: Record<string, unknown>,
  ): Promise<void> {
    await this.audit.append(peer.id, {
      actor: opts.actor ?? opts.onBehalfOf ?? 'system',
      action: 'peer.call.sent',
      payload: { operation, on_behalf_of: opts.onBehalfOf, ...outcome },
    });
  }
}

function actorOf(peer: FederationPeer, onBehalfOf: string | null): string {
  return onBehalfOf === null ? `peer:${peer.name}` : `peer:${peer.name}/${onBehalfOf}`;
}

/** The peer's platform id, which every call to it names (set once the handshake completed). */
function addressOf(peer: FederationPeer): string {
  if (peer.remotePlatformId === null) {
    throw new ConflictError(`federation peer ${peer.name} has not told its platform id; calls need an active peering`);
  }
  return peer.remotePlatformId;
}

function requireLive(peer: FederationPeer): void {
  if (!LIVE.includes(peer.status) || peer.remotePlatformUrl === null) {
    throw new ConflictError(`federation peer ${peer.name} is ${peer.status}; calls need an active peering`, {
      hint: 'list_federation_peers shows each peering’s status; finish the handshake or propose a new peering',
    });
  }
}

function parseEnvelope(
  body: Uint8Array | string,
): { ok: true; value: CallEnvelope } | { ok: false; error: InvalidInputError } {
  let json: unknown;
  try {
    json = JSON.parse(typeof body === 'string' ? body : Buffer.from(body).toString('utf8'));
  } catch {
    return { ok: false, error: new InvalidInputError('request body is not valid JSON') };
  }
  const parsed = callEnvelopeSchema.safeParse(json);
  if (parsed.success) return { ok: true, value: parsed.data };
  return { ok: false, error: argsError('the call envelope', parsed.error) };
}

function argsError(what: string, error: z.ZodError): InvalidInputError {
  const issue = error.issues[0]!;
  const field = issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : issue.path.join('.') || 'body';
  const message = issue.code === 'unrecognized_keys' ? 'unknown field' : issue.message;
  return new InvalidInputError(`${what}: ${field}: ${message}`, { details: { field } });
}

function refusalPayload(answer: PeerAnswer): Record<string, unknown> {
  const { code, message } = peerError(answer);
  return { outcome: 'refused', remote_status: answer.status, remote_code: code, message: message.slice(0, 500) };
}

/** A peer's refusal as this platform reports it: the same kind of error, naming the peer and its code. */
export function remoteRefusal(peer: FederationPeer, operation: string, answer: PeerAnswer): FlotillaError {
  return refusalError(`federation peer ${peer.name} refused ${operation}: ${peerError(answer).message}`, answer, {
    401: 'the peer does not recognise this platform’s signature: check list_federation_peers on both sides',
    403:
      peerError(answer).code === 'data_residency_violation'
        ? `the data residency policy of ${peer.name} keeps this data in its region; its operator can relax the policy (set_data_residency) or allow it once (override_data_residency)`
        : 'the peer’s boundary rules, grants, operator roles or data residency refused it; ask its operator',
    500: 'retry later; the peer answered with an error',
    503: 'retry later; the peer is unavailable',
  });
}
