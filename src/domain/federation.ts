// Federation peers as services return them, and the contract-version rule of the handshake.
// Types and pure functions only: no I/O.
import type { NewEvent } from './types.js';
import { InvalidInputError } from '../errors.js';

export const SPAWN_MODES = ['managed_child', 'autonomous_peer', 'cluster_member'] as const;
export type SpawnMode = (typeof SPAWN_MODES)[number];

export const SPAWN_ROLES = ['parent', 'child', 'member'] as const;
export type SpawnRole = (typeof SPAWN_ROLES)[number];

export const PEER_STATUSES = ['proposed', 'accepted', 'active', 'lost_contact', 'revoked'] as const;
export type PeerStatus = (typeof PEER_STATUSES)[number];

export const REGION_SOURCES = ['declared', 'pinned'] as const;
export type RegionSource = (typeof REGION_SOURCES)[number];

/** One side's record of a peering. `spawnRole` is this platform's role: parent proposed, child accepted. */
export interface FederationPeer {
  id: string;
  name: string;
  status: PeerStatus;
  spawnRole: SpawnRole;
  spawnMode: SpawnMode;
  remotePlatformUrl: string | null;
  remotePlatformId: string | null;
  contractVersion: string | null;
  /** The peer's Ed25519 key (SPKI PEM) and its RFC 7638 thumbprint, once accepted. */
  publicKey: string | null;
  publicKeyId: string | null;
  /** The region residency decisions use: the pinned one when an admin pinned it, else the declared one. */
  region: string | null;
  /** The region the peer declared at acceptance (shown; trusted only while nothing is pinned). */
  declaredRegion: string | null;
  /** `pinned`: an admin set `region` (set_federation_peer_region); `declared`: the peer's own word. */
  regionSource: RegionSource;
  regionPinnedBy: string | null;
  regionPinnedAt: Date | null;
  tokenExpiresAt: Date | null;
  /** When this side last heard from the peer: its heartbeat or any signed call arrived, or it answered one. */
  lastHeartbeatAt: Date | null;
  /** Round trip of this side's last answered heartbeat. */
  lastRttMs: number | null;
  /** When a heartbeat showed the peer's audit history rewritten, and at which of its sequences. */
  chainMismatchAt: Date | null;
  chainMismatchSequence: number | null;
  createdBy: string;
  createdAt: Date;
  updatedAt: Date;
  acceptedAt: Date | null;
  activatedAt: Date | null;
  revokedAt: Date | null;
}

/** How long an acceptance token is redeemable by default. */
export const ACCEPTANCE_TOKEN_TTL_MS = 30 * 60_000;

/** The major part of a contract version ("1.0" → "1"), or null when it is not `MAJOR.MINOR`. */
export function contractMajor(version: string): string | null {
  return /^(\d{1,6})\.\d{1,6}$/.exec(version)?.[1] ?? null;
}

/** True when two contract versions may peer: both well formed with the same major version. */
export function contractsCompatible(local: string, remote: string): boolean {
  const major = contractMajor(remote);
  return major !== null && major === contractMajor(local);
}

/** The `federation.peer.accepted` event (the tutorial's payload). */
export function acceptedEvent(peer: FederationPeer, actor: string): NewEvent {
  return {
    kind: 'federation.peer.accepted',
    actor,
    payload: {
      peer_id: peer.id,
      peer_kind: 'platform',
      name: peer.name,
      spawn_role: peer.spawnRole,
      spawn_mode: peer.spawnMode,
      contract_version: peer.contractVersion,
    },
  };
}

export function revokedEvent(peer: FederationPeer, actor: string): NewEvent {
  return {
    kind: 'federation.peer.revoked',
    actor,
    payload: { peer_id: peer.id, peer_kind: 'platform', name: peer.name, spawn_role: peer.spawnRole },
  };
}

/** An http(s) URL without a trailing slash, query or fragment. */
export function normaliseUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InvalidInputError(`${text} is not a URL`, {
      hint: 'give the platform URL, e.g. https://parent.example.org',
    });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidInputError(`${text} is not an http(s) URL`);
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}
