// What a spawn provider does: start a child platform from a spec (its bootstrap file carries the parent
// URL and the acceptance token) and stop it again. The spawn service decides what to start; a provider
// only knows how. The default is LocalProcessProvider (a `flotilla serve` process on this host).
import type { SpawnMode } from '../../domain/federation.js';

/** The bootstrap file a child reads on first boot: the tutorial's fw-cfg. Mode 0600. */
export interface BootstrapFile {
  version: 1;
  child_instance_id: string;
  /** null for a cluster member: it shares the parent's store and needs no handshake. */
  parent_url: string | null;
  /** Single use; replaced by null once redeemed (or refused), so a restart does not redeem again. */
  acceptance_token: string | null;
  contract_version: string;
  spawn_mode: SpawnMode;
  child_name: string;
  region: string | null;
  created_at: string;
  completed_at?: string | null;
  failed_at?: string | null;
  last_error?: string | null;
  federation_peer_id?: string | null;
}

export interface ChildSpec {
  /** The child_instance_id; a cluster member registers under it. */
  id: string;
  name: string;
  spawnMode: SpawnMode;
  region: string | null;
  /** The parent's URL as the child should reach it (null for a cluster member). */
  parentUrl: string | null;
  acceptanceToken: string | null;
  contractVersion: string;
  /** A cluster member's store: the parent's Postgres URL. Other children get a store of their own. */
  sharedDatabaseUrl: string | null;
  tickMs: number;
  logLevel: string;
}

export interface StartedChild {
  pid: number;
  port: number;
  url: string;
  /** The child's folder: bootstrap file, admin-token, platform.log and (unless shared) its data. */
  dataDir: string;
  hostname: string;
}

export type StopOutcome = 'SIGTERM' | 'SIGKILL' | 'already_exited';

export interface PlatformProvider {
  /** Stored in spawned_children.provider. */
  readonly name: string;
  start(spec: ChildSpec): Promise<StartedChild>;
  /** Stops the child's whole process group: SIGTERM, then SIGKILL after `graceMs`. */
  stop(child: { pid: number }, graceMs: number): Promise<StopOutcome>;
  /** True while the child's process group still has a process. */
  isAlive(child: { pid: number }): boolean;
}
