// Peers heartbeat each other every `heartbeatMs`. A heartbeat carries the sender's audit chain head for
// the peering and a witness: its hash now at the sequence the receiver last recorded. The receiver keeps
// every head it was told; a witness or head that disagrees with one recorded means the sender's history
// was rewritten, and is flagged. A peer not heard from for three intervals shows lost_contact
// (`federation.peer.heartbeat_stale`) and comes back by itself when it next speaks. Parts a peer's data
// residency policy keeps here (capacity: inventory) are left out, audited when that starts or stops.
import PQueue from 'p-queue';
import { z } from 'zod';
import { GENESIS_HASH } from '../domain/audit.js';
import type { FederationPeer } from '../domain/federation.js';
import type { ResourceKind } from '../domain/residency.js';
import { chainConsistent, lostContactAfterMs, reportedHeadSchema, type ReportedHead } from '../domain/peer-calls.js';
import { MAX_CAPACITY, MAX_COST_PER_INSTANCE } from '../domain/placement.js';
import { FlotillaError } from '../errors.js';
import { appendEvent } from '../store/events-repository.js';
import type { Db } from '../store/executor.js';
import { recordReportedCapacity } from '../store/placement-repository.js';
import { swapHeartbeatWithheld } from '../store/residency-repository.js';
import {
  claimHeartbeatTurns,
  findRecordedHead,
  markChainMismatch,
  markPeersLostContact,
  newestRecordedSequence,
  recordChainHead,
  setAckedSequence,
} from '../store/peer-calls-repository.js';
import type { AuditService } from './audit-service.js';
import type { ServiceDeps } from './context.js';
import type { PeerCalls } from './peer-calls.js';

export const DEFAULT_PEER_HEARTBEAT_MS = 15_000;

const heartbeatArgs = z.strictObject({
  head: reportedHeadSchema,
  witness: reportedHeadSchema.nullable(),
  // For placement (optional: older senders omit them): online instances per group, cost per instance.
  capacity: z.record(z.string().min(1).max(128), z.number().int().min(0).max(MAX_CAPACITY)).optional(),
  cost_per_instance: z.number().finite().min(0).max(MAX_COST_PER_INSTANCE).optional(),
});
type HeartbeatArgs = z.infer<typeof heartbeatArgs>;

/** What a heartbeat tells the peer for placement: this platform's capacity per group and its cost. */
export interface PlacementReport {
  capacity: Record<string, number>;
  cost_per_instance: number;
}

export interface HeartbeatAnswer {
  /** The newest sequence of the sender's log this side now holds a head for. */
  recorded_sequence: number;
  chain_consistent: boolean;
}

export class PeerHeartbeats {
  private readonly queue = new PQueue({ concurrency: 16 });
  private placementReport: (() => Promise<PlacementReport>) | null = null;

  constructor(
    private readonly deps: ServiceDeps,
    private readonly audit: AuditService,
    private readonly calls: PeerCalls,
    readonly heartbeatMs: number = DEFAULT_PEER_HEARTBEAT_MS,
  ) {
    calls.register<HeartbeatArgs>({
      name: 'heartbeat',
      capability: null,
      residencyKinds: [],
      args: heartbeatArgs,
      audited: false,
      handle: ({ db, peer, args, now }) => this.receive(db, peer, args, now),
    });
  }

  /** Heartbeats carry what `report` answers (computed once per tick) from now on. */
  attachPlacementReport(report: () => Promise<PlacementReport>): void {
    this.placementReport = report;
  }

  /** Sends this tick's heartbeats (a reconciler step): each live peering whose turn is due, concurrently. */
  async sendDue(now: Date): Promise<number> {
    const due = await claimHeartbeatTurns(this.deps.db, now, this.heartbeatMs);
    if (due.length === 0) return 0;
    const report = this.placementReport === null ? {} : await this.placementReport();
    await Promise.all(due.map((peer) => this.queue.add(() => this.send(peer, report))));
    return due.length;
  }

  private async send(peer: FederationPeer, report: Partial<PlacementReport>): Promise<void> {
    const head = await this.audit.chainHead(peer.id);
    const acked = await this.ackedSequence(peer.id);
    const witness: ReportedHead | null =
      acked === 0 ? null : { sequence: acked, hash: (await this.audit.hashAt(peer.id, acked)) ?? GENESIS_HASH };
    try {
      const { args, withheld, fields } = await this.calls.withhold(peer, 'heartbeat', { head, witness, ...report });
      await this.noteWithheld(peer, withheld, fields);
      const answer = (await this.calls.request(peer, 'heartbeat', args, {
        onBehalfOf: null,
        actor: 'system',
        audited: false,
      })) as Partial<HeartbeatAnswer> | null;
      const recorded = answer?.recorded_sequence;
      if (typeof recorded === 'number' && Number.isSafeInteger(recorded) && recorded > 0) {
        await setAckedSequence(this.deps.db, peer.id, Math.min(recorded, head.sequence));
      }
    } catch (err) {
      if (!(err instanceof FlotillaError)) throw err;
      this.deps.logger.debug({ peerId: peer.id, code: err.code }, 'peer heartbeat unanswered');
    }
  }

  /** Audits, once per change (not every tick), which kinds heartbeats to the peer now leave out. */
  private async noteWithheld(peer: FederationPeer, withheld: ResourceKind[], fields: string[]): Promise<void> {
    await this.deps.db.transaction().execute(async (trx) => {
      if (!(await swapHeartbeatWithheld(trx, peer.id, withheld))) return;
      const withholding = withheld.length > 0;
      await this.audit.append(
        peer.id,
        {
          actor: 'system',
          action: withholding ? 'data_residency.heartbeat_withheld' : 'data_residency.heartbeat_restored',
          payload: { action: 'heartbeat', resource_kinds: withheld, fields },
        },
        trx,
      );
      if (withholding) {
        this.deps.logger.warn({ peerId: peer.id, kinds: withheld }, 'heartbeats leave out what residency keeps here');
      }
    });
  }

  private async ackedSequence(peerId: string): Promise<number> {
    const row = await this.deps.db
      .selectFrom('federation_peers')
      .select('acked_sequence')
      .where('id', '=', peerId)
      .executeTakeFirst();
    return row === undefined ? 0 : Number(row.acked_sequence);
  }

  /** The receiving side: checks the reported head against what was recorded, records it, answers. */
  private async receive(db: Db, peer: FederationPeer, args: HeartbeatArgs, now: Date): Promise<HeartbeatAnswer> {
    if (args.capacity !== undefined || args.cost_per_instance !== undefined) {
      await recordReportedCapacity(db, peer.id, args.capacity ?? null, args.cost_per_instance ?? null, now);
    }
    const newest = await newestRecordedSequence(db, peer.id);
    const atHead = await findRecordedHead(db, peer.id, args.head.sequence);
    const atWitness = args.witness === null ? null : await findRecordedHead(db, peer.id, args.witness.sequence);
    let verdict = chainConsistent(args.head, newest, args.witness, atWitness);
    if (verdict.ok && atHead !== null && atHead !== args.head.hash)
      verdict = { ok: false, sequence: args.head.sequence };
    if (!verdict.ok) {
      if (await markChainMismatch(db, peer.id, verdict.sequence, now)) {
        const payload = {
          peer_id: peer.id,
          name: peer.name,
          sequence: verdict.sequence,
          reported_head: args.head,
          witness: args.witness,
          recorded_hash: atWitness ?? atHead,
        };
        await this.audit.append(peer.id, { actor: 'system', action: 'federation.audit.chain_mismatch', payload }, db);
        await appendEvent(db, { kind: 'federation.audit.chain_mismatch', actor: 'system', payload }, now);
        this.deps.logger.warn({ peerId: peer.id, sequence: verdict.sequence }, 'peer audit history was rewritten');
      }
      return { recorded_sequence: newest, chain_consistent: false };
    }
    await recordChainHead(db, peer.id, args.head.sequence, args.head.hash, now);
    return { recorded_sequence: Math.max(newest, args.head.sequence), chain_consistent: true };
  }

  /** Marks peers silent for three intervals lost_contact, with one event each (a reconciler step). */
  async sweepStale(now: Date): Promise<FederationPeer[]> {
    const before = new Date(now.getTime() - lostContactAfterMs(this.heartbeatMs));
    return this.deps.db.transaction().execute(async (trx) => {
      const lost = await markPeersLostContact(trx, before, now);
      for (const peer of lost) {
        await appendEvent(
          trx,
          {
            kind: 'federation.peer.heartbeat_stale',
            actor: 'system',
            payload: {
              peer_id: peer.id,
              name: peer.name,
              last_heartbeat_at: peer.lastHeartbeatAt?.toISOString() ?? null,
              missed_heartbeats: 3,
            },
          },
          now,
        );
      }
      if (lost.length > 0) this.deps.logger.warn({ peers: lost.map((p) => p.name) }, 'federation peers lost contact');
      return lost;
    });
  }
}
