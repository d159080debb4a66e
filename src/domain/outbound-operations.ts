// Every signed call this platform sends a peer, with the kinds of data (data residency) its arguments
// carry: the one table PeerCalls looks an operation up in before anything is sent. An operation missing
// here cannot be named (the type) nor sent (the lookup). Pure: no I/O.
import type { ResourceKind } from './residency.js';

/** What one outbound operation carries to the peer. */
export interface OutboundDeclaration {
  /** Kinds every call of the operation carries. */
  readonly carries: readonly ResourceKind[];
  /** Optional argument fields carrying kinds of their own: checked when present, and left out by `withhold`. */
  readonly parts?: Readonly<Record<string, readonly ResourceKind[]>>;
}

export const OUTBOUND_OPERATIONS = {
  // The audit chain head and witness are protocol; per-group capacity is this platform's inventory.
  heartbeat: { carries: [], parts: { capacity: ['inventory'] } },
  'grants.changed': { carries: [] },
  // Reads: the arguments name what to read there (a group, a module) and carry none of this platform's data.
  'inventory.summary': { carries: [] },
  'module_versions.list': { carries: [] },
  // A leg: the module, version and group to roll out, and how.
  'rollouts.precheck': { carries: ['module_config', 'deployments'] },
  'rollouts.start': { carries: ['module_config', 'deployments'] },
  // Ids and an action (stopping a leg is never held back), and a leg's progress as rollouts.status answers it.
  'rollouts.control': { carries: [] },
  'rollouts.status': { carries: [] },
  'rollouts.leg_progress': { carries: [] },
  // A share of a federated deployment (module, version, group, replicas), sent again by every status poll.
  'deployments.assign': { carries: ['deployments', 'module_config'] },
  'deployments.status': { carries: ['deployments', 'module_config'] },
  // Tells the peer to drop a share it holds: an id and a name it already has.
  'deployments.forget': { carries: [] },
  // A module version and its digest; a hop's status back up the chain.
  'migrations.relay': { carries: ['module_config'] },
  'migrations.hop_report': { carries: [] },
  // Tells the peer which of its operators may act here and as whom: names it already knows, no fleet data.
  'identity.bound': { carries: [] },
  'identity.revoked': { carries: [] },
} as const satisfies Record<string, OutboundDeclaration>;

/** The name of an operation this platform may send a peer. */
export type OutboundOperation = keyof typeof OUTBOUND_OPERATIONS;

/** The kinds a call of `declaration` with `args` carries: its own, plus those of each part present. */
export function kindsCarried(declaration: OutboundDeclaration, args: Record<string, unknown>): ResourceKind[] {
  const kinds = new Set<ResourceKind>(declaration.carries);
  for (const [field, partKinds] of Object.entries(declaration.parts ?? {})) {
    if (args[field] !== undefined) for (const k of partKinds) kinds.add(k);
  }
  return [...kinds];
}
