// Federation test fixtures: peer rows inserted directly, stores that can be closed and opened again on the
// same data (a restart, or another replica), a rejection helper, two running platforms federated over
// loopback HTTP, and heartbeat rounds driven by the platforms' manual clocks.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { KeyObject } from 'node:crypto';
import type { App } from '../../src/app.js';
import type { FederationPeer } from '../../src/domain/federation.js';
import type { Caller } from '../../src/domain/roles.js';
import { publicKeyId, publicKeyPem } from '../../src/federation/keys.js';
import { PeerClient, type PeerAnswer } from '../../src/federation/peer-client.js';
import {
  contentDigest,
  newNonce,
  type RequestSigner,
  type SignableRequest,
  type SignatureHeaders,
} from '../../src/federation/signing.js';
import type { ManualClock } from '../../src/scheduler/clock.js';
import { openStore, type Store, type StoreKind } from '../../src/store/db.js';
import type { Db } from '../../src/store/executor.js';
import { migrateToLatest } from '../../src/store/migrator.js';
import { createTestDatabase, silentLogger } from './store.js';

/** Inserts an active autonomous peer named `name`, with `publicKey` when given; returns its id. */
export async function insertTestPeer(db: Db, name: string, publicKey?: KeyObject): Promise<string> {
  const now = new Date('2026-11-22T00:00:00.000Z');
  const row = await db
    .insertInto('federation_peers')
    .values({
      name,
      status: 'active',
      spawn_role: 'parent',
      spawn_mode: 'autonomous_peer',
      public_key: publicKey === undefined ? null : publicKeyPem(publicKey),
      public_key_id: publicKey === undefined ? null : publicKeyId(publicKey),
      created_by: 'test',
      created_at: now,
      updated_at: now,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/** A store whose data outlives `close()`: `open()` again to restart on it. */
export interface ReopenableStore {
  open(): Promise<Store>;
  /** Removes the data (the folder or the database); close every opened store first. */
  destroy(): Promise<void>;
}

/** PGlite in a temporary folder, or a fresh Postgres database; migrated on first open. */
export async function reopenableStore(kind: StoreKind): Promise<ReopenableStore> {
  let migrated = false;
  const openMigrated = async (open: () => Promise<Store>): Promise<Store> => {
    const store = await open();
    if (!migrated) await migrateToLatest(store.db);
    migrated = true;
    return store;
  };
  if (kind === 'pglite') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flotilla-fed-'));
    const dataDir = path.join(dir, 'data');
    return {
      open: () => openMigrated(() => openStore({ kind: 'pglite', dataDir }, { logger: silentLogger })),
      destroy: async () => fs.rmSync(dir, { recursive: true, force: true }),
    };
  }
  const database = await createTestDatabase();
  return {
    open: () =>
      openMigrated(() => openStore({ kind: 'postgres', url: database.url }, { logger: silentLogger, poolSize: 5 })),
    destroy: () => database.drop(),
  };
}

/** The error a promise rejects with; fails the test when it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<{ code?: unknown; message: string }> {
  return promise.then(
    () => {
      throw new Error('expected the statement to be refused');
    },
    (err: { code?: unknown; message: string }) => err,
  );
}

const testClient = new PeerClient({ allowPrivate: () => true });

/** Sends to a peer as a platform would (signed when given a signer), with no platform's address policy. */
export function postToPeer(...args: Parameters<PeerClient['post']>): Promise<PeerAnswer> {
  return testClient.post(...args);
}

/** Both sides' records of one peering. */
export interface Peering {
  /** A's row for B (A proposed: spawn role parent). */
  onA: FederationPeer;
  /** B's row for A (B accepted: spawn role child). */
  onB: FederationPeer;
}

/** Federates two running test platforms over loopback HTTP: A proposes `name`, B accepts. Both end active. */
export async function federatePair(
  a: { app: App },
  b: { app: App },
  opts: { name?: string; spawnMode?: 'managed_child' | 'autonomous_peer' } = {},
): Promise<Peering> {
  const admin: Caller = { operatorId: '00000000-0000-4000-8000-000000000000', name: 'test-admin', role: 'admin' };
  const proposed = await a.app.services.federation.propose(admin, {
    name: opts.name ?? 'peer-b',
    spawnMode: opts.spawnMode ?? 'autonomous_peer',
  });
  const onB = await b.app.services.federation.acceptFromParent(admin, {
    parentUrl: a.app.http!.url,
    acceptanceToken: proposed.acceptanceToken,
  });
  const onA = await a.app.services.federation.resolve(proposed.peer.id);
  return { onA, onB };
}

/**
 * One heartbeat round: every platform's clock moves on by `intervalMs`, then each sends the peer heartbeats
 * now due, which carry its capacity (online instances per group) and cost per instance.
 */
export async function heartbeatRound(
  platforms: readonly { app: App; clock: ManualClock }[],
  intervalMs: number,
): Promise<void> {
  for (const p of platforms) p.clock.advance(intervalMs);
  for (const p of platforms) await p.app.services.federation.heartbeats.sendDue(p.clock.now());
}

/**
 * Signs `request` the way signRequest does, but with the `created` parameter exactly as given: what a
 * signer that chose an absurd time (out of range, negative) would send. The signature itself is valid.
 */
export function signWithCreated(
  request: SignableRequest,
  signer: RequestSigner,
  created: string,
  nonce = newNonce(),
): SignatureHeaders {
  const digest = contentDigest(request.body);
  const params =
    `("@method" "@authority" "@path" "@query" "content-digest");created=${created};nonce="${nonce}"` +
    `;keyid="${signer.keyId}";alg="ed25519";tag="flotilla-federation"`;
  const q = request.target.indexOf('?');
  const base = [
    `"@method": ${request.method.toUpperCase()}`,
    `"@authority": ${request.authority.toLowerCase()}`,
    `"@path": ${q === -1 ? request.target : request.target.slice(0, q)}`,
    `"@query": ${q === -1 ? '?' : request.target.slice(q)}`,
    `"content-digest": ${digest}`,
    `"@signature-params": ${params}`,
  ].join('\n');
  return {
    'content-digest': digest,
    'signature-input': `sig1=${params}`,
    signature: `sig1=:${signer.sign(Buffer.from(base, 'utf8')).toString('base64')}:`,
  };
}

/**
 * Binds, on `on`, the operator `remote` of the peer `peerId` (on's id or name for it) to on's local
 * operator `local` (the same name unless given): what a peer needs before its calls may act as an
 * operator there. Nothing is bound by default.
 */
export async function bindPeerOperator(
  on: { app: App },
  peerId: string,
  remote: string,
  local: string = remote,
): Promise<void> {
  const admin = await on.app.services.operators.callerByName('admin');
  await on.app.services.peerIdentities.bind(admin, { peerRef: peerId, remoteOperator: remote, localOperator: local });
}
