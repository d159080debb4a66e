// Federation peerings as operators see them: propose (parent side, a single-use acceptance token),
// accept (child side: redeem the token at the parent, record it, activate with a signed call), list,
// revoke (telling the remote side, best effort), and each peer's audit log. Inbound protocol calls are
// peer-protocol.ts's; this module never reads a token back and never writes before a parent said yes.
import { isUuid, regionSchema } from '../domain/names.js';
import type { AuditEntry, ChainVerification } from '../domain/audit.js';
import {
  ACCEPTANCE_TOKEN_TTL_MS,
  acceptedEvent,
  contractsCompatible,
  normaliseUrl,
  revokedEvent,
  type FederationPeer,
  type SpawnMode,
} from '../domain/federation.js';
import { decodeCursor, decodeTimeIdCursor, toPage, type Page } from '../domain/paging.js';
import { parseDeclaredResidency, type DeclaredResidency } from '../domain/residency.js';
import type { Caller } from '../domain/roles.js';
import { ConflictError, FlotillaError, InvalidInputError, NotFoundError, UnavailableError } from '../errors.js';
import { parsePublicKey, publicKeyId, publicKeyPem } from '../federation/keys.js';
import { peerError, refusalError, type PeerAnswer, type PeerClient } from '../federation/peer-client.js';
import { claimActivationRetries } from '../store/peer-calls-repository.js';
import { appendEvent } from '../store/events-repository.js';
import {
  findLivePeerByUrl,
  findPeerById,
  findPeerByName,
  freePeerName,
  insertAcceptedPeer,
  insertProposedPeer,
  listPeers,
  transitionPeer,
} from '../store/peers-repository.js';
import { listRefusals, type RefusalBucket } from '../store/refusals-repository.js';
import { setRemoteResidency } from '../store/residency-repository.js';
import type { AuditService } from './audit-service.js';
import { recordHandshakeGrant, withdrawPeerGrants } from './grants-service.js';
import type { ServiceDeps } from './context.js';
import { requireRole } from './operators-service.js';
import { CONTRACT_VERSION } from './platform-service.js';
import { PeerCalls, type PeerCallGates } from './peer-calls.js';
import { DEFAULT_PEER_HEARTBEAT_MS, PeerHeartbeats } from './peer-heartbeats.js';
import { MAX_REFUSAL_ROWS, PeerProtocol, type PlatformSelf } from './peer-protocol.js';
import { hashToken, newToken } from './tokens.js';

export type { RefusalBucket };

export interface ProposedPeer {
  peer: FederationPeer;
  /** Shown once; only its SHA-256 is stored. */
  acceptanceToken: string;
}

export interface RevokedPeer {
  peer: FederationPeer;
  remoteNotified: boolean;
  /** Why the remote side could not be told, when it could not. */
  remoteError: string | null;
}

export class FederationService {
  /** The inbound /federation/v1 handshake calls (accept, activate, revoke), for the HTTP routes. */
  readonly protocol: PeerProtocol;
  /** Signed calls after the handshake: the operation registry, `request`, the outbox. */
  readonly calls: PeerCalls;
  readonly heartbeats: PeerHeartbeats;
  private readonly tokenTtlMs: number;

  constructor(
    private readonly deps: ServiceDeps,
    private readonly audit: AuditService,
    private readonly self: PlatformSelf,
    opts: { gates: PeerCallGates; client: PeerClient; heartbeatMs?: number; tokenTtlMs?: number },
  ) {
    this.tokenTtlMs = opts.tokenTtlMs ?? ACCEPTANCE_TOKEN_TTL_MS;
    this.protocol = new PeerProtocol(deps, audit, self, opts.client);
    this.calls = new PeerCalls(deps, audit, this.protocol, opts.gates);
    this.heartbeats = new PeerHeartbeats(deps, audit, this.calls, opts.heartbeatMs ?? DEFAULT_PEER_HEARTBEAT_MS);
  }

  /** Parent side: records a proposed peering and returns its acceptance token, once. */
  async propose(
    caller: Caller,
    input: { name: string; spawnMode: SpawnMode; remotePlatformUrl?: string },
  ): Promise<ProposedPeer> {
    requireRole(caller, 'admin', 'proposing a federation peer');
    if (input.spawnMode === 'cluster_member') {
      throw new InvalidInputError('spawn_mode cluster_member is not proposed: a cluster member is a replica', {
        hint: 'start another replica on the same Postgres (flotilla serve --database-url …); propose managed_child or autonomous_peer to federate another platform',
      });
    }
    const remoteUrl = input.remotePlatformUrl === undefined ? null : normaliseUrl(input.remotePlatformUrl);
    const token = newToken('fpa');
    return this.deps.db.transaction().execute(async (trx) => {
      const now = this.deps.clock.now();
      if ((await findPeerByName(trx, input.name)) !== null) {
        throw new ConflictError(`a federation peer named ${input.name} already exists`, {
          hint: 'pick another name, or revoke_federation_peer the old one first',
        });
      }
      const peer = await insertProposedPeer(trx, {
        name: input.name,
        spawnMode: input.spawnMode,
        remotePlatformUrl: remoteUrl,
        tokenHash: hashToken(token),
        tokenExpiresAt: new Date(now.getTime() + this.tokenTtlMs),
        createdBy: caller.name,
        at: now,
      });
      await this.audit.append(
        peer.id,
        {
          actor: caller.name,
          action: 'federation.proposed',
          payload: {
            spawn_mode: peer.spawnMode,
            remote_platform_url: remoteUrl,
            token_expires_at: peer.tokenExpiresAt,
          },
        },
        trx,
      );
      await appendEvent(
        trx,
        {
          kind: 'federation.peer.proposed',
          actor: caller.name,
          payload: { peer_id: peer.id, name: peer.name, spawn_role: 'parent', spawn_mode: peer.spawnMode },
        },
        now,
      );
      return { peer, acceptanceToken: token };
    });
  }

  /**
   * Child side: redeems `acceptanceToken` at the parent, then records the parent and activates with a
   * signed call. Nothing is written here unless the parent accepted.
   */
  async acceptFromParent(
    caller: Caller,
    input: { parentUrl: string; acceptanceToken: string },
  ): Promise<FederationPeer> {
    requireRole(caller, 'admin', 'accepting a federation peer');
    const parentUrl = normaliseUrl(input.parentUrl);
    const existing = await findLivePeerByUrl(this.deps.db, parentUrl);
    if (existing !== null) {
      // Refused before the token is spent, so the parent's proposal stays redeemable.
      throw new ConflictError(
        `this platform already peers with ${parentUrl} as ${existing.name} (${existing.status})`,
        {
          hint: 'list_federation_peers shows it; revoke_federation_peer it before accepting a new proposal',
        },
      );
    }
    await this.protocol.client.checkUrl(parentUrl);
    const signer = await this.protocol.signer();
    const answer = await this.protocol.client.post(parentUrl, '/federation/v1/accept', {
      acceptance_token: input.acceptanceToken,
      platform_id: this.self.id,
      name: this.self.name,
      url: this.self.url(),
      region: this.self.region,
      public_key: signer.publicKeyPem,
      contract_version: CONTRACT_VERSION,
    });
    if (answer.status !== 200) throw refusedBy(parentUrl, 'the acceptance', answer);
    const parent = parseParentIdentity(answer.json, parentUrl);

    const peer = await this.deps.db.transaction().execute(async (trx) => {
      const now = this.deps.clock.now();
      let created: FederationPeer;
      try {
        created = await insertAcceptedPeer(trx, {
          name: await freePeerName(trx, parent.name),
          spawnMode: parent.spawnMode,
          remote: { ...parent.remote, url: parentUrl },
          createdBy: caller.name,
          at: now,
        });
      } catch (err) {
        if ((err as { code?: unknown }).code === '23505') {
          throw new ConflictError(`this platform already has a live peering with ${parent.name}'s key`, {
            cause: err,
            hint: 'list_federation_peers shows it; revoke it before accepting again',
          });
        }
        throw err;
      }
      await this.audit.append(
        created.id,
        {
          actor: caller.name,
          action: 'federation.accepted',
          payload: { parent_url: parentUrl, contract_version: parent.remote.contractVersion },
        },
        trx,
      );
      await setRemoteResidency(trx, created.id, parent.dataResidency);
      await appendEvent(trx, acceptedEvent(created, caller.name), now);
      return created;
    });

    return this.activate(peer, caller.name, { auditFailure: true });
  }

  /**
   * Child side: proves to the parent with a signed call that this platform holds the key it gave at
   * accept, then marks the peering active (with the managed child's issued grant). Throws when the
   * parent does not answer 200; the peering stays accepted and the reconciler tries again.
   */
  async activate(peer: FederationPeer, actor: string, opts: { auditFailure: boolean }): Promise<FederationPeer> {
    const parentUrl = peer.remotePlatformUrl!;
    const signer = await this.protocol.signer();
    let activated: PeerAnswer;
    try {
      activated = await this.protocol.client.post(
        parentUrl,
        '/federation/v1/activate',
        { to: peer.remotePlatformId },
        { signer, now: this.deps.clock.now() },
      );
    } catch (err) {
      if (opts.auditFailure && err instanceof FlotillaError) {
        await this.audit.append(peer.id, {
          actor,
          action: 'federation.activation_failed',
          payload: { code: err.code, message: err.message },
        });
      }
      throw err;
    }
    if (activated.status !== 200) {
      if (opts.auditFailure) {
        await this.audit.append(peer.id, {
          actor,
          action: 'federation.activation_failed',
          payload: peerError(activated),
        });
      }
      throw refusedBy(parentUrl, 'the activation', activated);
    }
    return this.deps.db.transaction().execute(async (trx) => {
      const now = this.deps.clock.now();
      const active = await transitionPeer(trx, peer.id, ['accepted'], 'active', now);
      if (active === null) {
        // Another activation (the reconciler's retry, or a replica's) got there first.
        const current = await findPeerById(trx, peer.id);
        if (current?.status === 'active') return current;
        throw new ConflictError(`federation peer ${peer.name} left accepted while activating`);
      }
      await this.audit.append(active.id, { actor, action: 'federation.activated', payload: {} }, trx);
      await recordHandshakeGrant(trx, this.audit, active, 'issued', actor, now);
      return active;
    });
  }

  /**
   * Retries the activation of accepted peerings this platform joined as a child whose activate did not
   * get through (parent down or restarting): a reconciler step, one attempt per heartbeat interval.
   */
  async retryActivations(now: Date): Promise<number> {
    const due = await claimActivationRetries(this.deps.db, now, this.heartbeats.heartbeatMs);
    let activated = 0;
    for (const peer of due) {
      try {
        await this.activate(peer, 'system', { auditFailure: false });
        activated += 1;
        this.deps.logger.info({ peerId: peer.id, name: peer.name }, 'federation peer activated on retry');
      } catch (err) {
        if (!(err instanceof FlotillaError)) throw err;
        this.deps.logger.warn({ peerId: peer.id, code: err.code }, 'federation activation retry failed');
      }
    }
    return activated;
  }

  /** Marks the peering revoked here, then tells the remote side with a signed call (best effort). */
  async revoke(caller: Caller, ref: string): Promise<RevokedPeer> {
    requireRole(caller, 'admin', 'revoking a federation peer');
    const peer = await this.resolve(ref);
    const revoked = await this.deps.db.transaction().execute(async (trx) => {
      const now = this.deps.clock.now();
      const row = await transitionPeer(
        trx,
        peer.id,
        ['proposed', 'accepted', 'active', 'lost_contact'],
        'revoked',
        now,
      );
      if (row === null) throw new ConflictError(`federation peer ${ref} is already revoked`);
      await this.audit.append(
        row.id,
        { actor: caller.name, action: 'federation.revoked', payload: { by: 'local' } },
        trx,
      );
      await appendEvent(trx, revokedEvent(row, caller.name), now);
      await withdrawPeerGrants(trx, this.audit, row.id, caller.name, now);
      return row;
    });
    if (peer.remotePlatformUrl === null || peer.publicKeyId === null) {
      return { peer: revoked, remoteNotified: false, remoteError: 'the peer never accepted; nothing to tell' };
    }
    let remoteError: string | null = null;
    try {
      const signer = await this.protocol.signer();
      const answer = await this.protocol.client.post(
        peer.remotePlatformUrl,
        '/federation/v1/revoke',
        { to: peer.remotePlatformId },
        {
          signer,
          now: this.deps.clock.now(),
        },
      );
      if (answer.status !== 200) remoteError = `${peerError(answer).code}: ${peerError(answer).message}`;
    } catch (err) {
      if (!(err instanceof FlotillaError)) throw err;
      remoteError = err.message;
    }
    await this.audit.append(revoked.id, {
      actor: caller.name,
      action: remoteError === null ? 'federation.revoke.sent' : 'federation.revoke.send_failed',
      payload: remoteError === null ? {} : { error: remoteError },
    });
    return { peer: revoked, remoteNotified: remoteError === null, remoteError };
  }

  /** Peers oldest first, paged. */
  async list(opts: { limit: number; cursor?: string }): Promise<Page<FederationPeer>> {
    const after = opts.cursor === undefined ? undefined : decodeTimeIdCursor(opts.cursor);
    const rows = await listPeers(this.deps.db, { limit: opts.limit, ...(after === undefined ? {} : { after }) });
    return toPage(rows, opts.limit, (p) => ({ created_at: p.createdAt.toISOString(), id: p.id }));
  }

  /** A peer by id or by name; errors name it as the caller gave it. */
  async resolve(ref: string): Promise<FederationPeer> {
    const peer = isUuid(ref) ? await findPeerById(this.deps.db, ref) : await findPeerByName(this.deps.db, ref);
    if (peer === null) {
      throw new NotFoundError(`no federation peer ${ref}`, {
        hint: 'list_federation_peers shows peers by id and name',
      });
    }
    return peer;
  }

  async auditLog(
    ref: string,
    opts: { limit: number; cursor?: string },
  ): Promise<{ peer: FederationPeer; page: Page<AuditEntry> }> {
    const peer = await this.resolve(ref);
    return { peer, page: await this.audit.page(peer.id, opts) };
  }

  /**
   * Signed requests refused before they were authenticated, per peer, reason and hour, newest first: of
   * one peer (by id or name), or all. `rows` and `total` are over the whole (bounded) record.
   */
  async refusals(opts: { ref?: string; limit: number; cursor?: string }): Promise<{
    peer: FederationPeer | null;
    page: Page<RefusalBucket>;
    rows: number;
    total: number;
    maxRows: number;
  }> {
    const peer = opts.ref === undefined ? null : await this.resolve(opts.ref);
    const beforeId = opts.cursor === undefined ? undefined : decodeCursor(opts.cursor, ['id']).id;
    if (beforeId !== undefined && !/^\d{1,19}$/.test(beforeId)) decodeCursor('', ['id']); // throws the cursor error
    const { buckets, rows, total } = await listRefusals(this.deps.db, {
      limit: opts.limit + 1,
      ...(peer === null ? {} : { peerId: peer.id }),
      ...(beforeId === undefined ? {} : { beforeId }),
    });
    const page = toPage(buckets, opts.limit, (b) => ({ id: b.id }));
    return { peer, page, rows, total, maxRows: MAX_REFUSAL_ROWS };
  }

  async verifyAuditLog(ref: string): Promise<{ peer: FederationPeer; verification: ChainVerification }> {
    const peer = await this.resolve(ref);
    return { peer, verification: await this.audit.verify(peer.id) };
  }
}

function refusedBy(url: string, what: string, answer: PeerAnswer): FlotillaError {
  return refusalError(`the parent at ${url} refused ${what}: ${peerError(answer).message}`, answer, {
    401: 'ask the parent operator to propose_federation_peer again and send the new acceptance_token',
    404: 'check parent_url: it must be a Flotilla platform URL',
  });
}

interface ParentIdentity {
  name: string;
  spawnMode: SpawnMode;
  /** The residency policy the parent set for us, shown by get_data_residency. */
  dataResidency: DeclaredResidency | null;
  remote: {
    platformId: string;
    region: string | null;
    publicKeyPem: string;
    publicKeyId: string;
    contractVersion: string;
  };
}

function parseParentIdentity(json: unknown, url: string): ParentIdentity {
  const body = (json ?? {}) as Record<string, unknown>;
  const str = (field: string): string => {
    const value = body[field];
    if (typeof value !== 'string' || value === '') {
      throw new UnavailableError(`the parent at ${url} answered the acceptance without ${field}`);
    }
    return value;
  };
  const spawnMode = str('spawn_mode');
  if (spawnMode !== 'managed_child' && spawnMode !== 'autonomous_peer') {
    throw new UnavailableError(`the parent at ${url} answered an unknown spawn_mode ${spawnMode}`);
  }
  const contractVersion = str('contract_version');
  if (!contractsCompatible(CONTRACT_VERSION, contractVersion)) {
    throw new ConflictError(
      `the parent speaks contract ${contractVersion}, this platform ${CONTRACT_VERSION}; major versions must match`,
    );
  }
  const key = parsePublicKey(str('public_key'));
  return {
    name: str('name'),
    spawnMode,
    dataResidency: parseDeclaredResidency(body.data_residency),
    remote: {
      platformId: str('platform_id'),
      // Shown to operators and used by residency until an admin pins one: a well-formed region, or unknown.
      region: regionSchema.safeParse(body.region).success ? (body.region as string) : null,
      publicKeyPem: publicKeyPem(key),
      publicKeyId: publicKeyId(key),
      contractVersion,
    },
  };
}
