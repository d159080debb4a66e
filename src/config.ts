// Settings from flags and environment, validated with zod. A bad value stops start-up with one line
// naming the setting; an empty variable counts as unset; unknown variables are ignored.
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { InvalidInputError } from './errors.js';
import type { PrivatePeerAddresses } from './federation/peer-address.js';

/** One setting: its flag, its environment variable, and its schema (with default). */
interface SettingSpec {
  flag: string;
  env?: string;
  schema: z.ZodType;
  describe: string;
  /** Never echo the value: it may carry a password. */
  secret?: boolean;
}

const port = z.coerce.number().int().min(0).max(65535);
const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

export const SETTINGS = {
  port: { flag: 'port', env: 'FLOTILLA_PORT', schema: port.default(7410), describe: 'HTTP port; 0 picks a free one' },
  host: {
    flag: 'host',
    env: 'FLOTILLA_HOST',
    schema: z.string().min(1).default('127.0.0.1'),
    describe: 'HTTP bind address',
  },
  name: {
    flag: 'name',
    env: 'FLOTILLA_NAME',
    schema: z.string().min(1).max(128).default(os.hostname()),
    describe: 'platform name',
  },
  region: {
    flag: 'region',
    env: 'FLOTILLA_REGION',
    schema: z.string().min(1).max(64).optional(),
    describe: 'platform region',
  },
  tickMs: {
    flag: 'tick-ms',
    env: 'FLOTILLA_TICK_MS',
    schema: z.coerce.number().int().min(10).max(3_600_000).default(5000),
    describe: 'reconciler interval in ms',
  },
  agentHeartbeatMs: {
    flag: 'agent-heartbeat-ms',
    env: 'FLOTILLA_AGENT_HEARTBEAT_MS',
    schema: z.coerce.number().int().min(100).max(3_600_000).default(15000),
    describe: 'heartbeat interval agents are told to keep; 3 missed make an instance stale',
  },
  peerHeartbeatMs: {
    flag: 'peer-heartbeat-ms',
    env: 'FLOTILLA_PEER_HEARTBEAT_MS',
    schema: z.coerce.number().int().min(100).max(3_600_000).default(15000),
    describe: 'interval between heartbeats to each federation peer; 3 missed make a peer lost_contact',
  },
  costPerInstance: {
    flag: 'cost-per-instance',
    env: 'FLOTILLA_COST_PER_INSTANCE',
    schema: z.coerce.number().finite().min(0).max(1_000_000_000).default(1),
    describe: "this platform's cost per instance, told to peers in heartbeats (cost_optimized placement)",
  },
  databaseUrl: {
    flag: 'database-url',
    env: 'DATABASE_URL',
    schema: z
      .string()
      .regex(
        /^(postgres|postgresql|pglite):\/\/.+/,
        'must be postgres://…, postgresql://…, pglite://PATH or pglite://memory',
      )
      .optional(),
    describe: 'store location',
    secret: true,
  },
  logLevel: { flag: 'log-level', env: 'LOG_LEVEL', schema: logLevel.default('info'), describe: 'log level' },
  allowedOrigins: {
    flag: 'allowed-origins',
    env: 'FLOTILLA_ALLOWED_ORIGINS',
    schema: z
      .string()
      .transform((s) =>
        s
          .split(',')
          .map((o) => o.trim())
          .filter((o) => o !== ''),
      )
      .pipe(z.array(z.url()))
      .default([]),
    describe: 'extra Origin/Host values accepted by /mcp, comma separated',
  },
  publicUrl: {
    flag: 'public-url',
    env: 'FLOTILLA_PUBLIC_URL',
    schema: z
      .url({ protocol: /^https?$/ })
      .transform((u) => u.replace(/\/+$/, ''))
      .optional(),
    describe: 'URL federation peers reach this platform at (default: the HTTP listener URL)',
  },
  peerPrivateAddresses: {
    flag: 'peer-private-addresses',
    env: 'FLOTILLA_PEER_PRIVATE_ADDRESSES',
    schema: z.enum(['auto', 'allow', 'deny']).default('auto'),
    describe:
      'whether federation peers on loopback, private or link-local addresses may be called: auto (only when this platform’s own URL is such an address), allow, deny',
  },
  childrenDir: {
    flag: 'children-dir',
    env: 'FLOTILLA_CHILDREN_DIR',
    schema: z
      .string()
      .min(1)
      .default(() => path.join(process.cwd(), '.flotilla', 'children')),
    describe: 'folder spawned child platforms live in, one subfolder each',
  },
  bootstrapFile: {
    flag: 'bootstrap-file',
    env: 'FLOTILLA_BOOTSTRAP_FILE',
    schema: z.string().min(1).optional(),
    describe: 'a spawned child: the bootstrap file its parent wrote (parent URL, acceptance token)',
  },
  exitWithPid: {
    flag: 'exit-with-pid',
    env: 'FLOTILLA_EXIT_WITH_PID',
    schema: z.coerce.number().int().min(1).optional(),
    describe: 'shut down cleanly when this process id is gone (a spawned child watches its parent)',
  },
  operator: {
    flag: 'operator',
    env: 'FLOTILLA_OPERATOR',
    schema: z.string().min(1).optional(),
    describe: 'operator a stdio session acts as (default: the bootstrap admin)',
  },
} satisfies Record<string, SettingSpec>;

export interface ServeConfig {
  port: number;
  host: string;
  name: string;
  region: string | undefined;
  tickMs: number;
  agentHeartbeatMs: number;
  peerHeartbeatMs: number;
  costPerInstance: number;
  databaseUrl: string | undefined;
  logLevel: z.infer<typeof logLevel>;
  allowedOrigins: string[];
  publicUrl: string | undefined;
  peerPrivateAddresses: PrivatePeerAddresses;
  operator: string | undefined;
  childrenDir: string;
  bootstrapFile: string | undefined;
  exitWithPid: number | undefined;
}

type SettingKey = keyof typeof SETTINGS;

/**
 * Resolves settings: a flag wins over its variable; empty strings count as unset.
 * Throws InvalidInputError whose message is one line naming the setting.
 */
export function resolveSettings<K extends SettingKey>(
  keys: readonly K[],
  flags: Record<string, string | boolean | undefined>,
  env: NodeJS.ProcessEnv,
): Pick<ServeConfig, K> {
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    const spec: SettingSpec = SETTINGS[key];
    const fromFlag = flags[spec.flag];
    const fromEnv = spec.env === undefined ? undefined : env[spec.env];
    const raw = typeof fromFlag === 'string' && fromFlag !== '' ? fromFlag : fromEnv === '' ? undefined : fromEnv;
    const parsed = spec.schema.safeParse(raw);
    if (!parsed.success) {
      const source =
        typeof fromFlag === 'string' && fromFlag !== '' ? `--${spec.flag}` : (spec.env ?? `--${spec.flag}`);
      const reason = parsed.error.issues[0]?.message ?? 'invalid value';
      const shown = spec.secret === true ? '' : `=${JSON.stringify(raw)}`;
      throw new InvalidInputError(`invalid setting ${source}${shown}: ${reason} (${spec.describe})`);
    }
    out[key] = parsed.data;
  }
  return out as Pick<ServeConfig, K>;
}
