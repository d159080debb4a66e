// The composition root: opens and migrates the store, builds services, the reconciler, the MCP
// server factory and the HTTP listener. Entry points only wire a transport to what this returns.
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { TOOLS } from '../tools/index.js';
import type { ServeConfig } from './config.js';
import { createLogger } from './logger.js';
import { agentRoutes } from './agents/routes.js';
import { sweepNonces } from './federation/request-auth.js';
import { federationRoutes } from './federation/routes.js';
import { privateAddressesAllowed, type PrivatePeerAddresses } from './federation/peer-address.js';
import { PeerClient } from './federation/peer-client.js';
import { apiRoutes } from './http/api-routes.js';
import { mcpRoute } from './http/mcp-route.js';
import { sendJson } from './http/io.js';
import { startHttpListener, type HttpListener, type HttpTimeouts, type Route } from './http/server.js';
import type { AnyTool } from './mcp/define-tool.js';
import { createMcpServer, type CallerResolver } from './mcp/server.js';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { systemClock, type Clock } from './scheduler/clock.js';
import { Reconciler } from './scheduler/reconciler.js';
import type { ServiceDeps } from './services/context.js';
import { AuditService } from './services/audit-service.js';
import { EventsService } from './services/events-service.js';
import { FederationService } from './services/federation-service.js';
import { BoundaryService } from './services/boundary-service.js';
import { GrantsService } from './services/grants-service.js';
import { PeerIdentityService } from './services/peer-identity-service.js';
import type { Services } from './services/index.js';
import { ApprovalsService } from './services/approvals-service.js';
import { MigrationChainsService } from './services/migration-chains-service.js';
import { FleetService } from './services/fleet-service.js';
import { LearningsService } from './services/learnings-service.js';
import { PoliciesService } from './services/policies-service.js';
import { RolloutsService } from './services/rollouts-service.js';
import { SkillsService } from './services/skills-service.js';
import { RolloutRunner } from './scheduler/rollout-runner.js';
import { HeartbeatIngestor } from './services/heartbeat-ingestor.js';
import { ModulesService } from './services/modules-service.js';
import { OperatorsService, type CreatedOperator } from './services/operators-service.js';
import { PlatformService } from './services/platform-service.js';
import { ClusterService } from './services/cluster-service.js';
import { SpawnService } from './services/spawn-service.js';
import { LocalProcessProvider } from './federation/spawn/local-process-provider.js';
import type { PlatformProvider } from './federation/spawn/provider.js';
import { peerCallGates } from './services/peer-gates.js';
import { ResidencyService } from './services/residency-service.js';
import { DeploymentSharesService } from './services/deployment-shares-service.js';
import { FederatedDeploymentsService } from './services/federated-deployments-service.js';
import { DEFAULT_COST_PER_INSTANCE, PlacementService } from './services/placement-service.js';
import { ManifestService } from './services/manifest-service.js';
import { PeerReads } from './services/peer-reads.js';
import { FederatedLegsService } from './services/federated-legs-service.js';
import { FederatedRolloutsService } from './services/federated-rollouts-service.js';
import { FederatedRolloutSync, localBarrierSetter } from './services/federated-rollout-sync.js';
import { STALE_AFTER_MISSED } from './domain/fleet.js';
import { UnavailableError } from './errors.js';
import { openStore, parseDatabaseUrl, type Store } from './store/db.js';
import { migrateToLatest } from './store/migrator.js';
import { ensurePlatformRow } from './store/platform-repository.js';

export type AppConfig = Pick<
  ServeConfig,
  'host' | 'port' | 'name' | 'region' | 'tickMs' | 'databaseUrl' | 'allowedOrigins'
> & {
  /** The URL federation peers reach this platform at; default the HTTP listener's. */
  publicUrl?: string | undefined;
  /** Whether peers on non-public addresses may be called; default auto (see peer-address.ts). */
  peerPrivateAddresses?: PrivatePeerAddresses;
  logLevel?: ServeConfig['logLevel'];
  /** Default 15000. */
  agentHeartbeatMs?: number;
  /** Default 15000. */
  peerHeartbeatMs?: number;
  /** This platform's cost per instance, told to peers in heartbeats; default 1. */
  costPerInstance?: number;
  /** Where spawned children live; default <cwd>/.flotilla/children. */
  childrenDir?: string;
  /** This process's cluster_members id when it was spawned as a cluster member (its bootstrap file). */
  clusterMemberId?: string;
  /** How long HTTP clients may take to send a request; default DEFAULT_HTTP_TIMEOUTS. */
  httpTimeouts?: Partial<HttpTimeouts>;
};

export interface AppOverrides {
  clock?: Clock;
  logger?: Logger;
  /** An already open store (tests share one per file); the app will not close it. */
  store?: Store;
  /** Extra tools beside the catalog (benchmarks add an echo tool). */
  extraTools?: AnyTool[];
  /** false: no HTTP listener (stdio only). */
  http?: boolean;
  /** false: the reconciler only ticks when told to (tests). */
  startReconciler?: boolean;
  /** How spawn_child_platform starts children; default a local `flotilla serve` process. */
  spawnProvider?: PlatformProvider;
}

export interface App {
  services: Services;
  store: Store;
  tools: readonly AnyTool[];
  reconciler: Reconciler;
  /** Batches agent heartbeats; its counters show how many statements wrote how many heartbeats. */
  ingestor: HeartbeatIngestor;
  logger: Logger;
  platformId: string;
  /** The bootstrap admin created by this start, if the store was empty: its token is shown once. */
  bootstrap: CreatedOperator | null;
  http: HttpListener | null;
  /** An MCP server whose caller is decided by `resolveCaller` (stdio, in-memory tests). */
  createMcpServer(resolveCaller: CallerResolver): Server;
  close(): Promise<void>;
}

export async function createApp(config: AppConfig, overrides: AppOverrides = {}): Promise<App> {
  const logger = overrides.logger ?? createLogger(config.logLevel ?? 'info');
  const clock = overrides.clock ?? systemClock;
  const store = overrides.store ?? (await openStore(parseDatabaseUrl(config.databaseUrl), { logger }));
  const ownsStore = overrides.store === undefined;
  try {
    await migrateToLatest(store.db);
    const platformRow = await ensurePlatformRow(store.db);
    const deps: ServiceDeps = { db: store.db, clock, logger };
    const reconciler = new Reconciler({ clock, logger: logger.child({ module: 'reconciler' }), tickMs: config.tickMs });
    const operators = new OperatorsService(deps);
    const modules = new ModulesService(deps);
    const fleet = new FleetService(deps, modules, config.agentHeartbeatMs ?? 15_000);
    const ingestor = new HeartbeatIngestor(deps);
    const policies = new PoliciesService(deps);
    const learnings = new LearningsService(deps);
    const rollouts = new RolloutsService(deps, fleet, modules, policies, learnings);
    const approvals = new ApprovalsService(deps, rollouts);
    const runner = new RolloutRunner({
      db: store.db,
      logger: logger.child({ module: 'rollouts' }),
      policies,
      // After a store outage an instance gets at least until it would count as stale to heartbeat again.
      freshWindowMs: STALE_AFTER_MISSED * (config.agentHeartbeatMs ?? 15_000),
    });
    const audit = new AuditService(deps);
    const residency = new ResidencyService(deps, audit);
    let http: HttpListener | null = null;
    const peerClient = new PeerClient({
      allowPrivate: () => privateAddressesAllowed(config.peerPrivateAddresses ?? 'auto', config.publicUrl ?? http?.url),
    });
    const federation = new FederationService(
      deps,
      audit,
      {
        id: platformRow.id,
        name: config.name,
        region: config.region ?? null,
        url: () => {
          const url = config.publicUrl ?? http?.url;
          if (url === undefined)
            throw new UnavailableError('this platform has no URL peers can reach', {
              hint: 'serve with an HTTP listener, or set --public-url / FLOTILLA_PUBLIC_URL',
            });
          return url;
        },
      },
      { gates: peerCallGates(residency), client: peerClient, heartbeatMs: config.peerHeartbeatMs },
    );
    const resolvePeer = (ref: string) => federation.resolve(ref);
    const placement = new PlacementService(deps, modules, federation, residency, {
      id: platformRow.id,
      name: config.name,
      region: config.region ?? null,
      costPerInstance: config.costPerInstance ?? DEFAULT_COST_PER_INSTANCE,
    });
    federation.heartbeats.attachPlacementReport(() => placement.localReport());
    // Federated deployments created here: shares placed over peers, reconciled each tick.
    const federatedDeployments = new FederatedDeploymentsService(
      deps,
      placement,
      federation,
      audit,
      federation.calls,
      new DeploymentSharesService(rollouts),
    );
    federatedDeployments.register();
    const grants = new GrantsService(deps, audit, resolvePeer);
    grants.attachPeerCalls(federation.calls);
    const peerIdentities = new PeerIdentityService(deps, audit, resolvePeer);
    peerIdentities.attachPeerCalls(federation.calls);
    const boundary = new BoundaryService(deps, audit, resolvePeer);
    const peerReads = new PeerReads(deps, federation);
    peerReads.register(federation.calls);
    // The target side of federated rollouts: legs peers start here report progress to their origin.
    const federatedLegs = new FederatedLegsService(deps, rollouts, runner, audit, federation.calls);
    federatedLegs.register();
    runner.onProgress((ids, now) => federatedLegs.reportProgress(ids, now));
    // The origin side: federated rollouts created here, their legs coordinated each tick.
    const federatedRollouts = new FederatedRolloutsService(
      deps,
      federation,
      rollouts,
      audit,
      new FederatedRolloutSync(deps, federation, rollouts, audit, localBarrierSetter(runner, clock)),
      { name: config.name, precheck: (db, args) => federatedLegs.precheck(db, args) },
    );
    federatedRollouts.attach(federation.calls);
    runner.onProgress((ids, now) => federatedRollouts.localProgress(ids, now));
    // Multi-hop migration chains: applied here, relayed hop by hop, each later hop behind its own gate.
    const migrationChains = new MigrationChainsService(deps, modules, audit, federation.calls, { name: config.name });
    migrationChains.attach(approvals);
    // Rollouts first: a completed batch is committed (and pushed to its origin) right after the tick's clock
    // reading, before the sweeps (which the runner does not depend on) and the network steps, and what the
    // federated step queues is delivered in the same tick (bench/README.md, section 6).
    reconciler.register({ name: 'rollouts', run: (now) => runner.tick(now).then(() => undefined) });
    reconciler.register({ name: 'grant-archive', run: (now) => grants.archiveExpired(now).then(() => undefined) });
    reconciler.register({ name: 'stale-sweep', run: (now) => fleet.sweepStale(now).then(() => undefined) });
    reconciler.register({ name: 'approval-expiry', run: (now) => approvals.expireDue(now).then(() => undefined) });
    reconciler.register({ name: 'nonce-sweep', run: (now) => sweepNonces(store.db, now).then(() => undefined) });
    reconciler.register({
      name: 'federated-rollouts',
      run: (now) => federatedRollouts.tick(now).then(() => undefined),
    });
    // Before the outbox step: a share re-sent for drift is delivered in the same tick.
    reconciler.register({ name: 'federated-deployments', run: (now) => federatedDeployments.tick(now) });
    reconciler.register({ name: 'peer-outbox', run: (now) => federation.calls.deliverDue(now).then(() => undefined) });
    reconciler.register({
      name: 'peer-activation',
      run: (now) => federation.retryActivations(now).then(() => undefined),
    });
    reconciler.register({
      name: 'peer-heartbeats',
      run: (now) => federation.heartbeats.sendDue(now).then(() => undefined),
    });
    reconciler.register({
      name: 'peer-contact',
      run: (now) => federation.heartbeats.sweepStale(now).then(() => undefined),
    });
    const spawn = new SpawnService(deps, federation, audit, {
      provider:
        overrides.spawnProvider ??
        new LocalProcessProvider({
          childrenDir: config.childrenDir ?? path.join(process.cwd(), '.flotilla', 'children'),
        }),
      storeKind: store.kind,
      databaseUrl: config.databaseUrl,
      parentUrl: () => {
        const url = config.publicUrl ?? http?.url;
        if (url === undefined)
          throw new UnavailableError('this platform has no URL a child platform can reach', {
            hint: 'serve with an HTTP listener, or set --public-url / FLOTILLA_PUBLIC_URL',
          });
        return url;
      },
      region: config.region ?? null,
      tickMs: config.tickMs,
      logLevel: config.logLevel ?? 'info',
    });
    const cluster = new ClusterService(deps, {
      enabled: store.kind === 'postgres',
      tickMs: config.tickMs,
      self: {
        id: config.clusterMemberId,
        name: config.name,
        region: config.region ?? null,
        url: () => config.publicUrl ?? http?.url ?? null,
        pid: process.pid,
        hostname: os.hostname(),
      },
    });
    reconciler.register({ name: 'spawned-children', run: (now) => spawn.reconcile(now) });
    reconciler.register({ name: 'cluster-member', run: (now) => cluster.heartbeat(now) });
    const services: Services = {
      operators,
      modules,
      fleet,
      policies,
      approvals,
      rollouts,
      learnings,
      skills: new SkillsService(rollouts),
      events: new EventsService(deps),
      audit,
      federation,
      spawn,
      cluster,
      residency,
      peerReads,
      federatedLegs,
      federatedRollouts,
      federatedDeployments,
      migrationChains,
      grants,
      peerIdentities,
      boundary,
      placement,
      manifests: new ManifestService(deps, { modules, policies, residency, boundary, federatedDeployments }),
      platform: new PlatformService(
        deps,
        {
          id: platformRow.id,
          name: config.name,
          region: config.region ?? null,
          storeKind: store.kind,
          startedAt: clock.now(),
        },
        reconciler,
        config.tickMs,
      ),
    };
    const bootstrap = await operators.bootstrap();
    const tools: readonly AnyTool[] = [...TOOLS, ...(overrides.extraTools ?? [])];
    const mcpDeps = { tools, services, logger: logger.child({ module: 'mcp' }) };

    if (overrides.http !== false) {
      const routes: Route[] = [
        {
          path: '/healthz',
          async handle(_req, res) {
            const storeUp = await services.platform.storeHealthy();
            sendJson(res, storeUp ? 200 : 503, { status: storeUp ? 'ok' : 'degraded', store: storeUp ? 'up' : 'down' });
          },
        },
        agentRoutes({ fleet, ingestor, logger: logger.child({ module: 'agents' }) }),
        federationRoutes({
          protocol: federation.protocol,
          calls: federation.calls,
          logger: logger.child({ module: 'federation' }),
        }),
        apiRoutes({ tools, services, logger: logger.child({ module: 'api' }) }),
        mcpRoute(mcpDeps, () => ({
          host: config.host,
          port: http?.port ?? config.port,
          allowedOrigins: config.allowedOrigins,
        })),
      ];
      http = await startHttpListener({
        host: config.host,
        port: config.port,
        routes,
        logger,
        timeouts: config.httpTimeouts,
      });
    }
    // After the listener: a member's URL is the listener's. A failure must not leave it open.
    await cluster.register().catch(async (err: unknown) => {
      await http?.close();
      throw err;
    });
    if (overrides.startReconciler !== false) reconciler.start();

    return {
      services,
      store,
      tools,
      reconciler,
      ingestor,
      logger,
      platformId: platformRow.id,
      bootstrap,
      http,
      createMcpServer: (resolveCaller) => createMcpServer({ ...mcpDeps, resolveCaller }),
      async close() {
        await reconciler.stop();
        await http?.close();
        await ingestor.drain();
        await cluster.stop();
        await peerClient.close();
        if (ownsStore) await store.close();
      },
    };
  } catch (err) {
    if (ownsStore) await store.close();
    throw err;
  }
}
