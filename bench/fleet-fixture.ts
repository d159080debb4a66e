// A large enrolled fleet without going through enrollment one agent at a time: the module versions,
// the group (through its enrollment token) and the group's baseline go through the services (or, for a
// served platform, its MCP tools); the instances are one INSERT … SELECT generate_series. Agent i (1-based) holds the token agentToken(i);
// the database stores its SHA-256 like enrollment does (checked against hashToken for one agent).
import { randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { App } from '../src/app.js';
import type { Caller } from '../src/domain/roles.js';
import type { Database } from '../src/store/database.js';
import type { ModuleVersion } from '../src/domain/types.js';
import { BOOTSTRAP_ADMIN } from '../src/services/operators-service.js';
import { hashToken } from '../src/services/tokens.js';
import type { ServedPlatform } from './served-platform.js';

export const randomDigest = (): string => `sha256:${randomBytes(32).toString('hex')}`;

/** The agent token of agent `i` (1-based). Benchmarks only: real tokens are 256-bit random. */
export const agentToken = (i: number): string => `fla_bench_${i}`;

export interface BenchFleet {
  admin: Caller;
  groupId: string;
  enrollmentTokenId: string;
  groupName: string;
  moduleName: string;
  /** What every instance runs and the group's baseline. */
  old: ModuleVersion;
  /** Published, not assigned: what a rollout upgrades to. */
  target: ModuleVersion;
  count: number;
  /** Seconds the instance INSERT (and VACUUM ANALYZE) took. */
  insertSeconds: number;
}

/**
 * `count` running, healthy instances in group `groupName`, all running `moduleName` at the baseline
 * version, last heartbeat at `now`.
 */
export async function createBenchFleet(
  app: App,
  opts: { count: number; groupName: string; moduleName: string; now: Date },
): Promise<BenchFleet> {
  const { services, store } = app;
  const admin = await services.operators.callerByName(BOOTSTRAP_ADMIN);
  const publish = async (version: string): Promise<ModuleVersion> =>
    (
      await services.modules.publish(admin, {
        moduleName: opts.moduleName,
        version,
        digest: randomDigest(),
        draft: false,
      })
    ).version;
  const old = await publish('1.24.0');
  const target = await publish('1.26.0');
  const { enrollmentToken } = await services.fleet.createEnrollmentToken(admin, {
    group: { groupName: opts.groupName },
    ttlSec: 86_400,
    region: null,
    labels: {},
  });
  await services.fleet.assign(admin, {
    group: { groupName: opts.groupName },
    module: { moduleName: opts.moduleName },
    versionRef: old.id,
  });
  const insertSeconds = await insertBenchInstances(store.db, {
    groupId: enrollmentToken.groupId,
    groupName: opts.groupName,
    enrollmentTokenId: enrollmentToken.id,
    running: { [opts.moduleName]: old.digest },
    from: 1,
    count: opts.count,
    now: opts.now,
  });
  return {
    admin,
    groupId: enrollmentToken.groupId,
    enrollmentTokenId: enrollmentToken.id,
    groupName: opts.groupName,
    moduleName: opts.moduleName,
    old,
    target,
    count: opts.count,
    insertSeconds,
  };
}

/** A served platform's fleet: what the rollout needs to know of it. */
export interface ServedBenchFleet {
  groupId: string;
  /** The version every instance runs (the group's baseline) and the one a rollout upgrades to. */
  old: { version: string; digest: string };
  target: { version: string; digest: string };
  count: number;
  insertSeconds: number;
}

/**
 * The same fleet on a `flotilla serve` platform: versions 1.24.0 and 1.26.0, the group (its enrollment
 * token) and the baseline through MCP as the bootstrap admin; the instances inserted with `p.store`.
 */
export async function createServedBenchFleet(
  p: ServedPlatform,
  opts: { count: number; groupName: string; moduleName: string; now: Date },
): Promise<ServedBenchFleet> {
  const publish = async (version: string): Promise<{ version: string; digest: string }> => {
    const digest = randomDigest();
    await p.call('publish_module_version', { module_name: opts.moduleName, version, digest });
    return { version, digest };
  };
  const old = await publish('1.24.0');
  const target = await publish('1.26.0');
  const token = await p.call('create_enrollment_token', { group: opts.groupName, ttl_sec: 86_400 });
  await p.call('assign_module_version', {
    group: opts.groupName,
    module_name: opts.moduleName,
    version_id: old.version,
  });
  const groupId = (token.group as { id: string }).id;
  const insertSeconds = await insertBenchInstances(p.store.db, {
    groupId,
    groupName: opts.groupName,
    enrollmentTokenId: token.enrollment_token_id as string,
    running: { [opts.moduleName]: old.digest },
    from: 1,
    count: opts.count,
    now: opts.now,
  });
  return { groupId, old, target, count: opts.count, insertSeconds };
}

/**
 * Inserts agents from..from+count-1 of a group (named `<group>-0000042`, token agentToken(i)), running,
 * healthy, last heartbeat at `now`, then VACUUM ANALYZE (as autovacuum would; PGlite never does it
 * itself). Returns the seconds it took.
 */
export async function insertBenchInstances(
  db: Kysely<Database>,
  f: {
    groupId: string;
    groupName: string;
    enrollmentTokenId: string;
    running: Record<string, string>;
    from: number;
    count: number;
    now: Date;
  },
): Promise<number> {
  const started = performance.now();
  await sql`
    INSERT INTO instances (name, group_id, region, labels, status, health, agent_status, agent_token_hash,
                           enrollment_token_id, running_module_digests, enrolled_at, last_heartbeat_at)
    SELECT ${f.groupName} || '-' || lpad(g::text, 7, '0'), ${f.groupId}, 'eu-west', '{"tier": "bench"}'::jsonb,
           'running', 'ok', 'running', encode(sha256(convert_to('fla_bench_' || g, 'UTF8')), 'hex'),
           ${f.enrollmentTokenId}, ${JSON.stringify(f.running)}::jsonb, ${f.now}, ${f.now}
    FROM generate_series(${f.from}::int, ${f.from + f.count - 1}::int) AS g`.execute(db);
  await sql`VACUUM ANALYZE instances`.execute(db);
  if (f.count > 0) {
    const first = await sql<{ agent_token_hash: string }>`
      SELECT agent_token_hash FROM instances
      WHERE name = ${`${f.groupName}-${String(f.from).padStart(7, '0')}`}`.execute(db);
    if (first.rows[0]?.agent_token_hash !== hashToken(agentToken(f.from))) {
      throw new Error('fleet fixture: the SQL token hash does not match hashToken');
    }
  }
  return (performance.now() - started) / 1000;
}
