// Multi-hop migration chains. The origin applies a migration (for now: publishing a module version) and
// relays it to the first peer of a path; each later hop opens an approval gate on its own platform, and
// once its operator approves applies the migration there and relays it to the next name of the path, which
// it resolves among its OWN peers (no platform knows more than its neighbours). Every change of a hop is
// reported back up the chain (migrations.hop_report), each hop forwarding its downstream reports, so the
// origin sees every hop. Relays and reports go through the outbox: applied once, retried while the peer is
// away. A rejected or failed hop stops the chain there. Handlers use only their call's `db`.
import { randomUUID } from 'node:crypto';
import { APPROVAL_TTL_MS, type ApprovalRequest } from '../domain/approvals.js';
import type { FederationPeer } from '../domain/federation.js';
import {
  chainState,
  hopReportArgsSchema,
  MIGRATION_CHAIN_SUBJECT,
  MIGRATION_HOP_ACTION,
  MIGRATION_HOP_APPROVAL_KIND,
  MIGRATION_OPERATIONS,
  nextHopName,
  CHAIN_NAME,
  pathProblem,
  relayArgsSchema,
  relayProblem,
  type ChainState,
  type HopReportArgs,
  type Migration,
  type MigrationChain,
  type MigrationHop,
  type RelayArgs,
} from '../domain/migration-chain.js';
import { isUuid } from '../domain/names.js';
import { decodeTimeIdCursor, toPage, type Page } from '../domain/paging.js';
import type { Caller } from '../domain/roles.js';
import { ConflictError, ForbiddenError, InvalidInputError, NotFoundError, ResidencyViolationError } from '../errors.js';
import { insertApproval } from '../store/approvals-repository.js';
import { appendEvent } from '../store/events-repository.js';
import type { Db } from '../store/executor.js';
import {
  advanceHop,
  findChain,
  findHop,
  insertChain,
  insertHops,
  listChains,
  listHops,
  setDownstreamPeer,
  type HopUpdate,
} from '../store/migration-chains-repository.js';
import { findModule, findVersion } from '../store/modules-repository.js';
import { findPeerById, findPeerByName } from '../store/peers-repository.js';
import type { OutboxEntry } from '../store/peer-calls-repository.js';
import type { ApprovalsService } from './approvals-service.js';
import type { AuditService } from './audit-service.js';
import type { ServiceDeps } from './context.js';
import type { ModulesService } from './modules-service.js';
import { requireRole } from './operators-service.js';
import type { PeerCallContext, PeerCalls } from './peer-calls.js';

export interface MigrationChainView {
  chain: MigrationChain;
  state: ChainState;
  hops: MigrationHop[];
}

export class MigrationChainsService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly modules: ModulesService,
    private readonly audit: AuditService,
    private readonly calls: PeerCalls,
    private readonly self: { name: string },
  ) {}

  /** Registers the two peer operations, the relay's failure hook and the gates' decision hook. */
  attach(approvals: ApprovalsService): void {
    this.calls.register({
      name: MIGRATION_OPERATIONS.relay,
      capability: 'migrations.relay',
      residencyKinds: [],
      args: relayArgsSchema,
      handle: (ctx) => inTransaction(ctx.db, (trx) => this.receive({ ...ctx, db: trx })),
    });
    this.calls.register({
      name: MIGRATION_OPERATIONS.hopReport,
      capability: null,
      residencyKinds: [],
      args: hopReportArgsSchema,
      handle: (ctx) => inTransaction(ctx.db, (trx) => this.receiveReport({ ...ctx, db: trx })),
    });
    this.calls.onSettled(MIGRATION_OPERATIONS.relay, async (db, entry, outcome) => {
      if (outcome === 'failed') await this.relayFailed(db, entry);
    });
    approvals.onDecided(MIGRATION_HOP_APPROVAL_KIND, (trx, req, caller, now) => this.decided(trx, req, caller, now));
    approvals.onExpired(MIGRATION_HOP_APPROVAL_KIND, (trx, req, now) => this.expired(trx, req, now));
  }

  // ---- origin ----------------------------------------------------------------------------------

  /** Applies `migration` here and relays it to path[0], an active peer of this platform. */
  async start(caller: Caller, input: { migration: Migration; path: string[] }): Promise<MigrationChainView> {
    requireRole(caller, 'admin', 'starting a migration chain');
    const problem = pathProblem(input.path, this.self.name);
    if (problem !== null)
      throw new InvalidInputError(problem, { hint: 'name each peer of the chain once, in hop order' });
    if (!CHAIN_NAME.test(this.self.name)) {
      throw new ConflictError(
        `this platform's name ${JSON.stringify(this.self.name)} cannot travel in a migration chain`,
        {
          hint: 'a chain carries its origin as a plain name (letters, digits, ".", "_" or "-"); restart the platform with such a --name',
        },
      );
    }
    const firstName = input.path[0]!;
    const id = randomUUID();
    // Refused before the transaction, so a residency refusal stays audited (inside, it would roll back).
    const firstPeer = await findPeerByName(this.deps.db, firstName);
    if (firstPeer !== null && firstPeer.status === 'active') {
      await this.calls.preflight(firstPeer, MIGRATION_OPERATIONS.relay, relayArgs(id, this.self.name, input, 1));
    }
    await this.deps.db.transaction().execute(async (trx) => {
      const now = this.deps.clock.now();
      const first = await findPeerByName(trx, firstName);
      if (first === null) {
        throw new NotFoundError(`no federation peer ${firstName}`, {
          hint: 'path[0] must be a peer of this platform; list_federation_peers shows them. Later names are peers of the hop before them',
        });
      }
      if (first.status !== 'active') {
        throw new ConflictError(`federation peer ${firstName} is ${first.status}; a chain starts at an active peer`, {
          hint: 'list_federation_peers shows each peering’s status',
        });
      }
      const conflict = await digestConflict(trx, input.migration);
      if (conflict !== null) {
        throw new ConflictError(conflict, { hint: 'publish the new build under a new version string' });
      }
      await this.modules.publish(
        caller,
        { ...input.migration, moduleName: input.migration.module_name, draft: false },
        trx,
      );
      await insertChain(
        trx,
        {
          id,
          originName: this.self.name,
          hopIndex: 0,
          migration: input.migration,
          path: input.path,
          requestedBy: caller.name,
          upstreamPeerId: null,
        },
        now,
      );
      await insertHops(
        trx,
        [
          { chainId: id, hopIndex: 0, platformName: this.self.name, status: 'applied', approvalRequestId: null },
          ...input.path.map((name, i) => ({
            chainId: id,
            hopIndex: i + 1,
            platformName: name,
            status: 'pending' as const,
            approvalRequestId: null,
          })),
        ],
        now,
      );
      const chain = (await findChain(trx, id))!;
      await this.relay(trx, chain, first, caller.name, now);
      await advanceHop(trx, id, 0, { status: 'relayed', decidedBy: caller.name, decidedAt: now }, now);
      await appendEvent(
        trx,
        {
          kind: 'migration_chain.started',
          actor: caller.name,
          payload: { migration_chain_id: id, migration: input.migration, path: input.path },
        },
        now,
      );
    });
    return this.get(id);
  }

  async get(id: string, db: Db = this.deps.db): Promise<MigrationChainView> {
    const chain = isUuid(id) ? await findChain(db, id) : null;
    if (chain === null) {
      throw new NotFoundError(`no migration chain ${id}`, {
        hint: 'list_migration_chains shows the chains this platform knows',
      });
    }
    const hops = await listHops(db, [id]);
    return { chain, hops, state: chainState(hops, chain.path.length) };
  }

  /** The chains this platform knows (started here or passed through), newest first. */
  async list(opts: { limit: number; cursor?: string }): Promise<Page<MigrationChainView>> {
    const before = opts.cursor === undefined ? undefined : decodeTimeIdCursor(opts.cursor);
    const chains = await listChains(this.deps.db, { limit: opts.limit, ...(before === undefined ? {} : { before }) });
    const hops = await listHops(
      this.deps.db,
      chains.map((c) => c.id),
    );
    const views = chains.map((chain) => {
      const own = hops.filter((h) => h.chainId === chain.id);
      return { chain, hops: own, state: chainState(own, chain.path.length) };
    });
    return toPage(views, opts.limit, (v) => ({ created_at: v.chain.createdAt.toISOString(), id: v.chain.id }));
  }

  // ---- a later hop -----------------------------------------------------------------------------

  /** migrations.relay: the chain arrives from the previous hop; its gate opens here. */
  private async receive(ctx: PeerCallContext<RelayArgs>): Promise<unknown> {
    const { db, peer, args, now } = ctx;
    const k = args.hop_index;
    if (k > args.path.length) {
      throw new InvalidInputError(`hop_index ${k} is past the end of a ${args.path.length}-hop path`, {
        details: { field: 'hop_index' },
      });
    }
    const inconsistent = relayProblem(args, peer.name);
    if (inconsistent !== null) {
      throw new InvalidInputError(`migration chain ${args.chain_id} refused: ${inconsistent}`, {
        hint: `the chain does not agree with what ${this.self.name} knows of it; ask the operator of ${peer.name}`,
        details: { reason: 'inconsistent_chain', field: inconsistent.startsWith('path') ? 'path' : 'origin' },
      });
    }
    if ((await findChain(db, args.chain_id)) !== null) {
      throw new ConflictError(`migration chain ${args.chain_id} already passed through ${this.self.name}`, {
        hint: 'a chain visits each platform once',
        details: { reason: 'chain_loop' },
      });
    }
    const next = nextHopName(args.path, k);
    if (next !== null) {
      const nextPeer = await findPeerByName(db, next);
      if (nextPeer?.status !== 'active') {
        throw new NotFoundError(
          nextPeer === null
            ? `${this.self.name} has no federation peer ${next} to relay migration chain ${args.chain_id} to`
            : `${this.self.name} cannot relay migration chain ${args.chain_id} to ${next}: that peering is ${nextPeer.status}`,
          {
            hint: `each name of the path must be an active peer of the hop before it; ask the operator of ${this.self.name}`,
            details: { reason: 'unknown_next_hop', next },
          },
        );
      }
    }
    const requestedBy = ctx.onBehalfOf ?? `peer:${peer.name}`;
    await insertChain(
      db,
      {
        id: args.chain_id,
        originName: args.origin,
        hopIndex: k,
        migration: args.migration,
        path: args.path,
        requestedBy,
        upstreamPeerId: peer.id,
      },
      now,
    );
    const approval = await insertApproval(db, {
      kind: MIGRATION_HOP_APPROVAL_KIND,
      subjectType: MIGRATION_CHAIN_SUBJECT,
      subjectId: args.chain_id,
      summary: {
        migration_chain_id: args.chain_id,
        hop_index: k,
        origin: args.origin,
        path: args.path,
        from_peer: peer.name,
        migration: args.migration,
        relays_to: next,
      },
      options: [],
      action: MIGRATION_HOP_ACTION,
      fourEyes: true,
      requestedBy,
      createdAt: now,
      expiresAt: new Date(now.getTime() + APPROVAL_TTL_MS),
    });
    await insertHops(
      db,
      [
        {
          chainId: args.chain_id,
          hopIndex: k,
          platformName: args.path[k - 1]!,
          status: 'awaiting_approval',
          approvalRequestId: approval.id,
        },
        ...args.path.slice(k).map((name, i) => ({
          chainId: args.chain_id,
          hopIndex: k + 1 + i,
          platformName: name,
          status: 'pending' as const,
          approvalRequestId: null,
        })),
      ],
      now,
    );
    await this.audit.append(
      peer.id,
      {
        actor: `peer:${peer.name}/${requestedBy}`,
        action: 'migration.hop.received',
        payload: {
          migration_chain_id: args.chain_id,
          hop_index: k,
          origin: args.origin,
          migration: args.migration,
          approval_request_id: approval.id,
        },
      },
      db,
    );
    await appendEvent(
      db,
      {
        kind: 'migration_chain.hop.awaiting_approval',
        actor: `peer:${peer.name}`,
        payload: { migration_chain_id: args.chain_id, hop_index: k, approval_request_id: approval.id },
      },
      now,
    );
    const chain = (await findChain(db, args.chain_id))!;
    await this.report(db, chain, (await findHop(db, args.chain_id, k))!, now);
    return {
      migration_chain_id: args.chain_id,
      hop_index: k,
      status: 'awaiting_approval',
      approval_request_id: approval.id,
    };
  }

  /** The gate here was decided (in the decision's transaction): apply and relay, or stop the chain. */
  private async decided(trx: Db, req: ApprovalRequest, caller: Caller, now: Date): Promise<string | null> {
    const chain = await findChain(trx, req.subjectId, { forUpdate: true });
    if (chain === null) return null;
    const decision = { decidedBy: caller.name, decidedAt: now };
    if (req.status !== 'approved') {
      return this.settleHere(trx, chain, caller.name, now, {
        ...decision,
        status: 'rejected',
        error: req.reason === null ? `rejected by ${caller.name}` : `rejected by ${caller.name}: ${req.reason}`,
      });
    }
    const conflict = await digestConflict(trx, chain.migration);
    if (conflict !== null)
      return this.settleHere(trx, chain, caller.name, now, { ...decision, status: 'failed', error: conflict });
    const m = chain.migration;
    await this.modules.publish(
      caller,
      { moduleName: m.module_name, version: m.version, digest: m.digest, draft: false },
      trx,
    );
    const next = nextHopName(chain.path, chain.hopIndex);
    if (next === null) return this.settleHere(trx, chain, caller.name, now, { ...decision, status: 'applied' });
    const nextPeer = await findPeerByName(trx, next);
    if (nextPeer?.status !== 'active') {
      return this.settleHere(trx, chain, caller.name, now, {
        ...decision,
        status: 'failed',
        error: `applied on ${this.self.name}, but ${next} is ${nextPeer === null ? 'not a federation peer here' : `${nextPeer.status} here`}; the chain stops`,
      });
    }
    try {
      await this.relay(trx, chain, nextPeer, caller.name, now);
    } catch (err) {
      // Residency keeps the migration from the next hop: refused (and audited) before a byte left; the
      // chain stops here, applied, as when the next hop is not a peer.
      if (!(err instanceof ResidencyViolationError)) throw err;
      return this.settleHere(trx, chain, caller.name, now, {
        ...decision,
        status: 'failed',
        error: `applied on ${this.self.name}, but ${err.message}; the chain stops`.slice(0, 1000),
      });
    }
    return this.settleHere(trx, chain, caller.name, now, { ...decision, status: 'relayed' });
  }

  /** The gate here expired undecided (in the expiry's transaction): the chain stops as if rejected. */
  private async expired(trx: Db, req: ApprovalRequest, now: Date): Promise<void> {
    const chain = await findChain(trx, req.subjectId, { forUpdate: true });
    if (chain === null) return;
    await this.settleHere(trx, chain, 'reconciler', now, {
      status: 'rejected',
      error: `approval request ${req.id} expired undecided`,
    });
  }

  /** Records this hop's outcome, audits it on the upstream peer's log and reports it upstream. */
  private async settleHere(trx: Db, chain: MigrationChain, actor: string, now: Date, u: HopUpdate): Promise<string> {
    const hop = await advanceHop(trx, chain.id, chain.hopIndex, u, now);
    if (hop === null) return u.status;
    const upstream = chain.upstreamPeerId === null ? null : await findPeerById(trx, chain.upstreamPeerId);
    if (upstream !== null) {
      await this.audit.append(
        upstream.id,
        {
          actor,
          action: `migration.hop.${hop.status}`,
          payload: { migration_chain_id: chain.id, hop_index: hop.hopIndex, error: hop.error },
        },
        trx,
      );
    }
    await appendEvent(
      trx,
      {
        kind: `migration_chain.hop.${hop.status}`,
        actor,
        payload: { migration_chain_id: chain.id, hop_index: hop.hopIndex, error: hop.error },
      },
      now,
    );
    await this.report(trx, chain, hop, now);
    return hop.status;
  }

  /** Outboxes migrations.relay of `chain` to `peer`, the next hop, on behalf of the chain's operator. */
  private async relay(trx: Db, chain: MigrationChain, peer: FederationPeer, actor: string, now: Date): Promise<void> {
    const args = relayArgs(chain.id, chain.originName, chain, chain.hopIndex + 1);
    await this.calls.enqueue(trx, peer, MIGRATION_OPERATIONS.relay, args, { onBehalfOf: chain.requestedBy, actor });
    await setDownstreamPeer(trx, chain.id, peer.id, now);
    await this.audit.append(
      peer.id,
      {
        actor,
        action: 'migration.hop.relayed',
        payload: {
          migration_chain_id: chain.id,
          hop_index: args.hop_index,
          origin: chain.originName,
          migration: chain.migration,
        },
      },
      trx,
    );
  }

  /** Sends a hop's status to the previous hop (nothing to do at the origin). */
  private async report(db: Db, chain: MigrationChain, hop: MigrationHop, now: Date): Promise<void> {
    if (chain.upstreamPeerId === null) return;
    const upstream = await findPeerById(db, chain.upstreamPeerId);
    if (upstream === null || (upstream.status !== 'active' && upstream.status !== 'lost_contact')) {
      this.deps.logger.warn(
        { chainId: chain.id, hop: hop.hopIndex },
        'migration hop report not sent: upstream peering ended',
      );
      return;
    }
    const args: HopReportArgs = {
      chain_id: chain.id,
      hop_index: hop.hopIndex,
      platform_name: hop.platformName,
      status: hop.status,
      approval_request_id: hop.approvalRequestId,
      decided_by: hop.decidedBy,
      decided_at: hop.decidedAt?.toISOString() ?? null,
      error: hop.error?.slice(0, 1000) ?? null,
    };
    await this.calls.enqueue(db, upstream, MIGRATION_OPERATIONS.hopReport, args, { onBehalfOf: null, actor: 'system' });
    await this.audit.append(
      upstream.id,
      {
        actor: 'system',
        action: 'migration.hop.reported',
        payload: { migration_chain_id: chain.id, hop_index: hop.hopIndex, status: hop.status, at: now.toISOString() },
      },
      db,
    );
  }

  /** migrations.hop_report: a downstream hop's new status; recorded, then forwarded up the chain. */
  private async receiveReport(ctx: PeerCallContext<HopReportArgs>): Promise<unknown> {
    const { db, peer, args, now } = ctx;
    const chain = await findChain(db, args.chain_id, { forUpdate: true });
    if (chain === null) throw new NotFoundError(`no migration chain ${args.chain_id} on ${this.self.name}`);
    if (chain.downstreamPeerId !== peer.id || args.hop_index <= chain.hopIndex) {
      throw new ForbiddenError(
        `federation peer ${peer.name} is not downstream of hop ${chain.hopIndex} of migration chain ${chain.id}`,
        {
          details: { reason: 'not_downstream' },
        },
      );
    }
    const expected = chain.path[args.hop_index - 1];
    if (expected !== args.platform_name) {
      throw new InvalidInputError(
        `hop ${args.hop_index} of migration chain ${chain.id} is ${expected ?? 'past the end of its path'}, not ${args.platform_name}`,
        { details: { reason: 'inconsistent_chain', field: 'platform_name' } },
      );
    }
    const hop = await advanceHop(
      db,
      chain.id,
      args.hop_index,
      {
        status: args.status,
        approvalRequestId: args.approval_request_id,
        decidedBy: args.decided_by,
        decidedAt: args.decided_at === null ? null : new Date(args.decided_at),
        error: args.error,
      },
      now,
    );
    await this.audit.append(
      peer.id,
      {
        actor: `peer:${peer.name}`,
        action: 'migration.hop.report_received',
        payload: {
          migration_chain_id: chain.id,
          hop_index: args.hop_index,
          status: args.status,
          recorded: hop !== null,
        },
      },
      db,
    );
    if (hop !== null) await this.report(db, chain, hop, now);
    return { recorded: hop !== null };
  }

  /** A relay the next hop refused (or that never got through) stops the chain at that hop. */
  private async relayFailed(db: Db, entry: OutboxEntry): Promise<void> {
    const parsed = relayArgsSchema.safeParse(entry.args);
    if (!parsed.success) return;
    const chain = await findChain(db, parsed.data.chain_id, { forUpdate: true });
    if (chain === null) return;
    const now = this.deps.clock.now();
    const error = `relay refused or undeliverable: ${entry.lastError ?? 'unknown error'}`.slice(0, 1000);
    const hop = await advanceHop(db, chain.id, parsed.data.hop_index, { status: 'failed', error }, now);
    if (hop === null) return;
    await this.audit.append(
      entry.federationPeerId,
      {
        actor: 'system',
        action: 'migration.hop.relay_failed',
        payload: { migration_chain_id: chain.id, hop_index: hop.hopIndex, error },
      },
      db,
    );
    await appendEvent(
      db,
      {
        kind: 'migration_chain.hop.failed',
        actor: 'system',
        payload: { migration_chain_id: chain.id, hop_index: hop.hopIndex, error },
      },
      now,
    );
    await this.report(db, chain, hop, now);
  }
}

/** Why `m` cannot apply here (the version exists with another digest), or null. */
async function digestConflict(db: Db, m: Migration): Promise<string | null> {
  const module = await findModule(db, { name: m.module_name });
  if (module === null) return null;
  const existing = await findVersion(db, { moduleId: module.id, version: m.version });
  if (existing === null || existing.digest === m.digest) return null;
  return `${m.module_name} ${m.version} is already published with digest ${existing.digest}; versions are immutable`;
}

/** The migrations.relay arguments that send a chain to hop `hopIndex`. */
function relayArgs(
  chainId: string,
  origin: string,
  chain: { migration: Migration; path: string[] },
  hopIndex: number,
): RelayArgs {
  return { chain_id: chainId, origin, migration: chain.migration, path: chain.path, hop_index: hopIndex };
}

function inTransaction<T>(db: Db, fn: (trx: Db) => Promise<T>): Promise<T> {
  return db.isTransaction ? fn(db) : db.transaction().execute(fn);
}
