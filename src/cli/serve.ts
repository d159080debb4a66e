// `flotilla serve`: one platform — HTTP listener (MCP, health) and reconciler; --stdio adds MCP on stdio.
import { parseArgs } from 'node:util';
import { createApp } from '../app.js';
import { resolveSettings } from '../config.js';
import { createLogger } from '../logger.js';
import { serveStdio } from '../mcp/stdio.js';
import { BOOTSTRAP_ADMIN } from '../services/operators-service.js';
import { readBootstrapFile, runFirstBoot, watchParentPid, writeAdminToken } from '../federation/spawn/first-boot.js';
import { say, sayErr } from './output.js';

export const SERVE_HELP = `Usage: flotilla serve [options]

Runs one Flotilla platform: MCP Streamable HTTP at /mcp, /healthz, and the reconciler.

Options (flag / environment, default):
  --port N             FLOTILLA_PORT      7410 (0 picks a free port; the URL is printed)
  --host ADDR          FLOTILLA_HOST      127.0.0.1
  --name NAME          FLOTILLA_NAME      this host's name
  --region REGION      FLOTILLA_REGION    (none)
  --tick-ms MS         FLOTILLA_TICK_MS   5000 (reconciler interval)
  --agent-heartbeat-ms MS  FLOTILLA_AGENT_HEARTBEAT_MS  15000 (agents' heartbeat interval; 3 missed = stale)
  --peer-heartbeat-ms MS   FLOTILLA_PEER_HEARTBEAT_MS   15000 (federation peers' heartbeat interval; 3 missed = lost_contact)
  --cost-per-instance N    FLOTILLA_COST_PER_INSTANCE   1.0 (this platform's cost per instance, told to peers)
  --database-url URL   DATABASE_URL       pglite://./.flotilla/data (postgres://… for production)
  --log-level LEVEL    LOG_LEVEL          info
  --allowed-origins L  FLOTILLA_ALLOWED_ORIGINS  extra Origin/Host values for /mcp, comma separated
  --public-url URL     FLOTILLA_PUBLIC_URL  URL federation peers reach this platform at (default: the listener's)
  --peer-private-addresses M  FLOTILLA_PEER_PRIVATE_ADDRESSES  auto (call peers on loopback/private/link-local
                       addresses: auto = only when this platform's own URL is one; allow; deny)
  --children-dir DIR   FLOTILLA_CHILDREN_DIR  ./.flotilla/children (where spawn_child_platform puts children)
  --bootstrap-file F   FLOTILLA_BOOTSTRAP_FILE  (spawned children) the parent's bootstrap file: first boot
                       redeems its token; the admin token goes to F's folder/admin-token, not stdout
  --exit-with-pid N    FLOTILLA_EXIT_WITH_PID  shut down cleanly when process N is gone
  --stdio              speak MCP on stdin/stdout (logs stay on stderr)
  --operator NAME      FLOTILLA_OPERATOR  operator a stdio session acts as (default: ${BOOTSTRAP_ADMIN})
  --no-http            with --stdio: no HTTP listener
  -h, --help           this help
`;

export async function serveCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      name: { type: 'string' },
      region: { type: 'string' },
      'tick-ms': { type: 'string' },
      'agent-heartbeat-ms': { type: 'string' },
      'peer-heartbeat-ms': { type: 'string' },
      'cost-per-instance': { type: 'string' },
      'database-url': { type: 'string' },
      'log-level': { type: 'string' },
      'allowed-origins': { type: 'string' },
      'public-url': { type: 'string' },
      'peer-private-addresses': { type: 'string' },
      'children-dir': { type: 'string' },
      'bootstrap-file': { type: 'string' },
      'exit-with-pid': { type: 'string' },
      operator: { type: 'string' },
      stdio: { type: 'boolean' },
      'no-http': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    say(SERVE_HELP);
    return 0;
  }
  const config = resolveSettings(
    [
      'port',
      'host',
      'name',
      'region',
      'tickMs',
      'agentHeartbeatMs',
      'peerHeartbeatMs',
      'costPerInstance',
      'databaseUrl',
      'logLevel',
      'allowedOrigins',
      'publicUrl',
      'peerPrivateAddresses',
      'childrenDir',
      'bootstrapFile',
      'exitWithPid',
      'operator',
    ] as const,
    values,
    process.env,
  );
  const stdio = values.stdio === true;
  // In stdio mode stdout is JSON-RPC: whatever a person should read goes to stderr.
  const tell = stdio ? sayErr : say;
  const logger = createLogger(config.logLevel);
  const boot = config.bootstrapFile === undefined ? null : readBootstrapFile(config.bootstrapFile);
  const app = await createApp(
    {
      ...config,
      ...(boot?.spawn_mode === 'cluster_member' ? { clusterMemberId: boot.child_instance_id } : {}),
    },
    { logger, http: !(stdio && values['no-http'] === true) },
  );

  // Before anything is printed: a supervisor may stop us as soon as it reads the listening line.
  const firstBootAbort = new AbortController();
  let firstBoot: Promise<unknown> = Promise.resolve();
  let unwatchParent = (): void => {};
  let closing: Promise<void> | null = null;
  const shutdown = (): Promise<void> =>
    (closing ??= (async () => {
      unwatchParent();
      firstBootAbort.abort();
      await firstBoot.catch(() => undefined);
      await app.close();
    })());
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      logger.info({ signal }, 'shutting down');
      void shutdown().then(() => process.exit(0));
    });
  }

  tell(`Flotilla platform "${config.name}" (${app.platformId}) on ${app.store.describe}`);
  if (app.http !== null) tell(`MCP listening at ${app.http.url}/mcp  (health: ${app.http.url}/healthz)`);
  if (app.bootstrap !== null && config.bootstrapFile !== undefined) {
    // A spawned child's output is its platform.log: the token goes to a 0600 file instead.
    const file = writeAdminToken(config.bootstrapFile, app.bootstrap.token);
    tell(`Bootstrap admin "${app.bootstrap.operator.name}" created. Its token is in ${file}`);
  } else if (app.bootstrap !== null) {
    tell(`Bootstrap admin "${app.bootstrap.operator.name}" created. Its token, shown only this once:`);
    tell(`  ${app.bootstrap.token}`);
  }
  if (config.exitWithPid !== undefined) {
    const pid = config.exitWithPid;
    unwatchParent = watchParentPid(pid, () => {
      logger.info({ pid }, 'the watched process is gone; shutting down');
      void shutdown().then(() => process.exit(0));
    });
  }
  if (config.bootstrapFile !== undefined) {
    firstBoot = runFirstBoot({
      file: config.bootstrapFile,
      federation: app.services.federation,
      logger: logger.child({ module: 'first-boot' }),
      signal: firstBootAbort.signal,
    }).catch((err: unknown) => logger.error({ err }, 'first boot failed'));
  }

  if (stdio) {
    const operator = config.operator ?? BOOTSTRAP_ADMIN;
    try {
      await app.services.operators.callerByName(operator); // fail fast on a wrong FLOTILLA_OPERATOR
    } catch (err) {
      // An open store (PGlite above all) keeps the process alive: close it so the exit code is seen.
      await shutdown();
      throw err;
    }
    await serveStdio(app.createMcpServer(() => app.services.operators.callerByName(operator)));
    await shutdown();
    return 0;
  }
  await new Promise<never>(() => {}); // serve until a signal arrives
  return 0;
}
