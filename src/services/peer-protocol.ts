// The inbound side of the peer protocol: redeem an acceptance token (unsigned; the token is the
// credential), and authenticate signed calls (activate, revoke) against the calling peer's recorded key.
// Refusals before a call is authenticated are counted apart from the audit log (federation_refusals).
import { z } from 'zod';
import {
  acceptedEvent,
  contractsCompatible,
  normaliseUrl,
  revokedEvent,
  type FederationPeer,
  type PeerStatus,
} from '../domain/federation.js';
import { regionSchema } from '../domain/names.js';
import type { ResidencyPolicy } from '../domain/residency.js';
import { ConflictError, InvalidInputError, UnauthorizedError } from '../errors.js';
import {
  loadPlatformSigner,
  parsePublicKey,
  publicKeyId,
  publicKeyPem,
  type PlatformSigner,
} from '../federation/keys.js';
import type { PeerClient } from '../federation/peer-client.js';
import { authenticatePeerRequest } from '../federation/request-auth.js';
import type { HeaderMap, SignableRequest } from '../federation/signing.js';
import { appendEvent } from '../store/events-repository.js';
import {
  findPeerByKeyId,
  findPeerByTokenHash,
  redeemAcceptanceToken,
  transitionPeer,
} from '../store/peers-repository.js';
import { recordRefusal } from '../store/refusals-repository.js';
import { findResidencyPolicy } from '../store/residency-repository.js';
import type { AuditService } from './audit-service.js';
import { recordHandshakeGrant, withdrawPeerGrants } from './grants-service.js';
import type { ServiceDeps } from './context.js';
import { CONTRACT_VERSION } from './platform-service.js';
import { hashToken } from './tokens.js';

/** This platform as it introduces itself to peers. */
export interface PlatformSelf {
  id: string;
  name: string;
  region: string | null;
  /** The URL peers reach this platform at (the public URL setting, else the listener's). */
  url(): string;
}

export const acceptRequestSchema = z.strictObject({
  acceptance_token: z.string().min(1).max(200),
  platform_id: z.uuid(),
  name: z.string().min(1).max(128),
  url: z.string().min(1).max(2048),
  region: regionSchema.nullable().optional(),
  public_key: z.string().min(1).max(4096),
  contract_version: z.string().min(1).max(32),
});
export type AcceptRequest = z.infer<typeof acceptRequestSchema>;

/** What the parent answers a successful accept with: its identity and residency policy. */
export interface AcceptAnswer {
  platform_id: string;
  name: string;
  url: string;
  region: string | null;
  public_key: string;
  contract_version: string;
  spawn_mode: string;
  /** The residency policy this side set for the new peer (a proposed peer can have one): zero or one. */
  data_residency: ResidencyPolicy[];
}

/** An inbound signed request as the HTTP route read it. */
export type InboundRequest = SignableRequest & { headers: HeaderMap };

export class PeerProtocol {
  private signerPromise: Promise<PlatformSigner> | undefined;

  constructor(
    private readonly deps: ServiceDeps,
    private readonly audit: AuditService,
    private readonly self: PlatformSelf,
    /** Sends to peers under this platform's address policy; shared by every outbound call. */
    readonly client: PeerClient,
  ) {}

  /** The platform's signer, loaded (or created) on first use. */
  signer(): Promise<PlatformSigner> {
    this.signerPromise ??= loadPlatformSigner(this.deps.db, this.deps.clock).catch((err: unknown) => {
      this.signerPromise = undefined;
      throw err;
    });
    return this.signerPromise;
  }

  /**
   * Parent side of accept: negotiates the contract, then redeems the token in one conditional update,
   * recording the child's key, URL and region. A refusal changes nothing.
   */
  async accept(input: AcceptRequest): Promise<AcceptAnswer> {
    if (!contractsCompatible(CONTRACT_VERSION, input.contract_version)) {
      throw new ConflictError(
        `contract version ${input.contract_version} cannot peer with this platform's ${CONTRACT_VERSION}: major versions must match`,
        {
          hint: 'upgrade one platform so both speak the same major contract version',
          details: { local_contract_version: CONTRACT_VERSION, remote_contract_version: input.contract_version },
        },
      );
    }
    if (input.platform_id === this.self.id) throw new ConflictError('a platform cannot federate with itself');
    const key = parsePublicKey(input.public_key);
    const url = normaliseUrl(input.url);
    const tokenHash = hashToken(input.acceptance_token);
    // Only a redeemable token earns the address check (a DNS lookup), so strangers cannot make us resolve names.
    const holder = await findPeerByTokenHash(this.deps.db, tokenHash);
    const checkedAt = this.deps.clock.now();
    if (holder === null || holder.status !== 'proposed' || (holder.tokenExpiresAt ?? checkedAt) < checkedAt) {
      throw await this.tokenRefusal(this.deps.db, tokenHash, checkedAt);
    }
    // The redeemer chooses where this platform will send its calls: refused before the token is spent.
    await this.client.checkUrl(url);
    const signer = await this.signer();
    const peer = await this.deps.db.transaction().execute(async (trx) => {
      const now = this.deps.clock.now();
      let redeemed: FederationPeer | null;
      try {
        redeemed = await redeemAcceptanceToken(
          trx,
          tokenHash,
          {
            platformId: input.platform_id,
            url,
            region: input.region ?? null,
            publicKeyPem: publicKeyPem(key),
            publicKeyId: publicKeyId(key),
            contractVersion: input.contract_version,
          },
          now,
        );
      } catch (err) {
        if ((err as { code?: unknown }).code === '23505') {
          throw new ConflictError('this public key already belongs to a live peering of this platform', { cause: err });
        }
        throw err;
      }
      if (redeemed === null) throw await this.tokenRefusal(trx, tokenHash, now);
      await this.audit.append(
        redeemed.id,
        {
          actor: `peer:${input.name}`,
          action: 'federation.accepted',
          payload: {
            remote_platform_id: input.platform_id,
            remote_platform_url: url,
            region: input.region ?? null,
            public_key_id: redeemed.publicKeyId,
            contract_version: input.contract_version,
          },
        },
        trx,
      );
      await appendEvent(trx, acceptedEvent(redeemed, `peer:${input.name}`), now);
      await recordHandshakeGrant(trx, this.audit, redeemed, 'received', `peer:${input.name}`, now);
      return redeemed;
    });
    this.deps.logger.info({ peerId: peer.id, name: peer.name }, 'federation peer accepted');
    const residency = await findResidencyPolicy(this.deps.db, peer.id);
    return {
      platform_id: this.self.id,
      name: this.self.name,
      url: this.self.url(),
      region: this.self.region,
      public_key: signer.publicKeyPem,
      contract_version: CONTRACT_VERSION,
      spawn_mode: peer.spawnMode,
      data_residency: residency === null ? [] : [residency.policy],
    };
  }

  private async tokenRefusal(
    db: Parameters<typeof findPeerByTokenHash>[0],
    tokenHash: string,
    now: Date,
  ): Promise<UnauthorizedError> {
    const holder = await findPeerByTokenHash(db, tokenHash);
    const hint = 'ask the parent operator to propose_federation_peer again and use the new acceptance_token';
    if (holder === null) return new UnauthorizedError('acceptance token is unknown', { hint });
    if (holder.status === 'revoked' && holder.acceptedAt === null) {
      return new UnauthorizedError('acceptance token was revoked with its proposal', { hint });
    }
    if (holder.status !== 'proposed') return new UnauthorizedError('acceptance token was already used', { hint });
    if (holder.tokenExpiresAt !== null && holder.tokenExpiresAt <= now) {
      return new UnauthorizedError(`acceptance token expired at ${holder.tokenExpiresAt.toISOString()}`, { hint });
    }
    return new UnauthorizedError('acceptance token cannot be redeemed', { hint });
  }

  /**
   * Authenticates a signed call from a peer whose status is one of `allowed`. A refusal (unknown key, bad
   * signature, time or digest, replay, misdirected, a peer not allowed) is counted in federation_refusals,
   * never in the write-once audit log, which only authenticated peers can add to; then thrown as 401.
   */
  async authenticate(request: InboundRequest, allowed: readonly PeerStatus[], action: string): Promise<FederationPeer> {
    const now = this.deps.clock.now();
    let known: FederationPeer | null = null;
    const result = await authenticatePeerRequest(
      this.deps.db,
      request,
      async (keyId) => {
        known = await findPeerByKeyId(this.deps.db, keyId);
        if (known === null || known.publicKey === null || !allowed.includes(known.status)) return null;
        return { peerId: known.id, publicKey: parsePublicKey(known.publicKey) };
      },
      { now, recipient: this.self.id },
    );
    const peer = known as FederationPeer | null;
    if (result.ok && peer !== null) return peer;
    const reason = result.ok ? 'unknown_key' : result.reason;
    const message =
      peer !== null && !allowed.includes(peer.status)
        ? `federation peer ${peer.name} is ${peer.status} and may not call ${action}`
        : result.ok
          ? 'unknown peer'
          : result.message;
    // Nothing here proved who sent the request (a refusal after the signature verified still means the
    // call itself was not authentic: replayed, stale, misdirected), so it is counted outside the audit log.
    await recordRefusal(
      this.deps.db,
      { peerId: peer?.id ?? null, reason, request: printable(action, 128), message: printable(message, 300), at: now },
      MAX_REFUSAL_ROWS,
    );
    this.deps.logger.warn({ action, reason, peerId: peer?.id }, 'signed peer request refused');
    throw new UnauthorizedError(message, { details: { reason } });
  }

  /** A signed activate: the child proved it holds the key it gave at accept. Idempotent once active. */
  async activate(request: InboundRequest): Promise<FederationPeer> {
    const peer = await this.authenticate(request, ['accepted', 'active'], 'activate');
    if (peer.status === 'active') return peer;
    return this.deps.db.transaction().execute(async (trx) => {
      const active = await transitionPeer(trx, peer.id, ['accepted'], 'active', this.deps.clock.now());
      if (active === null) throw new ConflictError(`federation peer ${peer.name} is no longer accepted`);
      await this.audit.append(
        active.id,
        { actor: `peer:${peer.name}`, action: 'federation.activated', payload: {} },
        trx,
      );
      return active;
    });
  }

  /** A signed revoke: the remote side ended the peering; this side marks it revoked too. */
  async revoke(request: InboundRequest): Promise<FederationPeer> {
    const peer = await this.authenticate(request, ['accepted', 'active', 'lost_contact'], 'revoke');
    return this.deps.db.transaction().execute(async (trx) => {
      const now = this.deps.clock.now();
      const revoked = await transitionPeer(trx, peer.id, ['accepted', 'active', 'lost_contact'], 'revoked', now);
      if (revoked === null) throw new ConflictError(`federation peer ${peer.name} is already revoked`);
      await this.audit.append(
        revoked.id,
        { actor: `peer:${peer.name}`, action: 'federation.revoked', payload: { by: 'remote' } },
        trx,
      );
      await appendEvent(trx, revokedEvent(revoked, `peer:${peer.name}`), now);
      await withdrawPeerGrants(trx, this.audit, revoked.id, `peer:${peer.name}`, now);
      return revoked;
    });
  }
}

/** Rows federation_refusals keeps (one per peer, reason and hour); the oldest go first. */
export const MAX_REFUSAL_ROWS = 1000;

/** `text` cut to `max` characters, anything but printable ASCII shown as `?` (it comes from the request). */
function printable(text: string, max: number): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, max);
}

/** Input errors of the accept body, as the route reports them. */
export function acceptInputError(error: z.ZodError): InvalidInputError {
  const issue = error.issues[0]!;
  const field = issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : issue.path.join('.') || 'body';
  return new InvalidInputError(`${field}: ${issue.code === 'unrecognized_keys' ? 'unknown field' : issue.message}`);
}
