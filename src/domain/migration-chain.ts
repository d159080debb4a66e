// Multi-hop migration chains as pure rules: the migration a chain carries, the arguments of the two peer
// operations (migrations.relay down the path, migrations.hop_report back up it), the statuses a hop moves
// through, how a report merges into what a platform already knows, and a chain's overall state. No I/O.
import { z } from 'zod';
import { digestSchema, moduleNameSchema, operatorNameSchema, versionSchema } from './names.js';
import { safeText } from './text.js';

export const MIGRATION_OPERATIONS = {
  /** Sent to the next hop: receive the migration, open the gate, relay onward once approved. */
  relay: 'migrations.relay',
  /** Sent to the previous hop, and forwarded by it up to the origin: one hop's new status. */
  hopReport: 'migrations.hop_report',
} as const;

/** The approval kind and governed action of a hop's gate. */
export const MIGRATION_HOP_APPROVAL_KIND = 'migration_hop';
export const MIGRATION_HOP_ACTION = 'federation.migration_hop';
export const MIGRATION_CHAIN_SUBJECT = 'migration_chain';

/** A chain is at most this many hops after the origin. */
export const MAX_CHAIN_PATH = 16;

export const migrationSchema = z.strictObject({
  kind: z.literal('publish_module_version'),
  module_name: moduleNameSchema,
  version: versionSchema,
  digest: digestSchema,
});
export type Migration = z.infer<typeof migrationSchema>;

/**
 * A platform's name as a chain carries it (the origin, each hop of the path): a plain name, no spaces,
 * newlines or markup, since a hop's approval prompt shows it.
 */
export const CHAIN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const peerName = z
  .string()
  .regex(CHAIN_NAME, 'a platform name: letters, digits, ".", "_" or "-", 1–128 characters, nothing else');
export const chainPathSchema = z.array(peerName).min(1).max(MAX_CHAIN_PATH);

export const HOP_STATUSES = ['pending', 'awaiting_approval', 'applied', 'relayed', 'rejected', 'failed'] as const;
export type HopStatus = (typeof HOP_STATUSES)[number];

export const relayArgsSchema = z.strictObject({
  chain_id: z.uuid(),
  origin: peerName,
  migration: migrationSchema,
  /** The whole path as the origin gave it; this hop is path[hop_index - 1]. */
  path: chainPathSchema,
  hop_index: z.number().int().min(1).max(MAX_CHAIN_PATH),
});
export type RelayArgs = z.infer<typeof relayArgsSchema>;

export const hopReportArgsSchema = z.strictObject({
  chain_id: z.uuid(),
  hop_index: z.number().int().min(1).max(MAX_CHAIN_PATH),
  platform_name: peerName,
  status: z.enum(HOP_STATUSES),
  approval_request_id: z.uuid().nullable(),
  decided_by: operatorNameSchema.nullable(),
  decided_at: z.iso.datetime().nullable(),
  error: safeText({ max: 1000 }).nullable(),
});
export type HopReportArgs = z.infer<typeof hopReportArgsSchema>;

export interface MigrationHop {
  chainId: string;
  hopIndex: number;
  platformName: string;
  status: HopStatus;
  approvalRequestId: string | null;
  decidedBy: string | null;
  decidedAt: Date | null;
  error: string | null;
  updatedAt: Date;
}

export interface MigrationChain {
  id: string;
  originName: string;
  /** This platform's hop: 0 at the origin. */
  hopIndex: number;
  migration: Migration;
  path: string[];
  requestedBy: string;
  upstreamPeerId: string | null;
  downstreamPeerId: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** How far along a hop is: a report never moves a hop backwards. Terminal statuses share the top rank. */
const RANK: Record<HopStatus, number> = {
  pending: 0,
  awaiting_approval: 1,
  applied: 2,
  relayed: 3,
  rejected: 4,
  failed: 4,
};

export function isTerminalHop(status: HopStatus): boolean {
  return status === 'rejected' || status === 'failed';
}

/** Whether a hop may move from `from` to `to` (reports arriving twice or out of order are ignored). */
export function canAdvanceHop(from: HopStatus, to: HopStatus): boolean {
  if (from === to) return false;
  if (isTerminalHop(from)) return false;
  // An applied hop that could not relay fails; a relayed one is done here (its next hop reports itself).
  if (from === 'relayed') return false;
  if (from === 'applied') return to === 'relayed' || to === 'failed';
  return RANK[to] > RANK[from];
}

export type ChainState = 'in_progress' | 'completed' | 'stopped';

/** A chain is stopped when a hop is rejected or failed, completed when its last hop applied. */
export function chainState(hops: readonly Pick<MigrationHop, 'hopIndex' | 'status'>[], pathLength: number): ChainState {
  if (hops.some((h) => isTerminalHop(h.status))) return 'stopped';
  const last = hops.find((h) => h.hopIndex === pathLength);
  return last?.status === 'applied' ? 'completed' : 'in_progress';
}

/** The name of the peer hop `hopIndex` relays to, or null when it is the last hop. */
export function nextHopName(path: readonly string[], hopIndex: number): string | null {
  return path[hopIndex] ?? null;
}

/**
 * Why a relayed chain does not agree with what this hop knows, or null. The sending peer is hop
 * `hopIndex - 1`: at hop 1 that is the origin itself, so the origin must be the name this platform knows
 * the sender by; the path must be one the origin could have started.
 */
export function relayProblem(
  args: Pick<RelayArgs, 'origin' | 'path' | 'hop_index'>,
  senderName: string,
): string | null {
  const problem = pathProblem(args.path, args.origin);
  if (problem !== null) return `path: ${problem.replace('this platform', 'the origin')}`;
  if (args.hop_index === 1 && args.origin !== senderName) {
    return `origin ${args.origin} is not the sending peer ${senderName}: at hop 1 the peer relaying the chain is its origin`;
  }
  return null;
}

/** Why a path cannot start a chain, or null. */
export function pathProblem(path: readonly string[], originName: string): string | null {
  if (path.length === 0) return 'path must name at least one peer';
  if (path.length > MAX_CHAIN_PATH) return `path names at most ${MAX_CHAIN_PATH} peers`;
  const seen = new Set<string>();
  for (const name of path) {
    if (name === originName) return `path names this platform (${originName}); a chain never returns to its origin`;
    if (seen.has(name)) return `path names ${name} twice; a chain visits each platform once`;
    seen.add(name);
  }
  return null;
}
