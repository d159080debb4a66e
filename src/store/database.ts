// Kysely table types for the store. Types only: no I/O.
import type { ColumnType, Generated } from 'kysely';

type Timestamp = ColumnType<Date, Date | string, Date | string>;

export interface PlatformTable {
  singleton: Generated<boolean>;
  id: Generated<string>;
  created_at: Generated<Date>;
  /** When the rollout runner last reached the store; null before its first tick. */
  rollouts_reconciled_at: Timestamp | null;
}

export interface OperatorsTable {
  id: Generated<string>;
  name: string;
  role: string;
  token_hash: string;
  created_by: string;
  created_at: Timestamp;
  revoked_at: Timestamp | null;
}

export interface EventsTable {
  id: ColumnType<string, never, never>;
  kind: string;
  at: Timestamp;
  actor: string;
  payload: ColumnType<Record<string, unknown>, string, never>;
}

export interface EventKindsTable {
  kind: string;
}

export interface ModulesTable {
  id: Generated<string>;
  name: string;
  created_by: string;
  created_at: Timestamp;
}

export interface ModuleVersionsTable {
  id: Generated<string>;
  module_id: string;
  version: string;
  digest: string;
  lifecycle_state: string;
  created_by: string;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface GroupsTable {
  id: Generated<string>;
  name: string;
  created_by: string;
  created_at: Timestamp;
}

export interface EnrollmentTokensTable {
  id: Generated<string>;
  group_id: string;
  token_hash: string;
  region: string | null;
  labels: ColumnType<Record<string, string>, string | undefined, string>;
  created_by: string;
  created_at: Timestamp;
  expires_at: Timestamp;
  revoked_at: Timestamp | null;
}

export interface InstancesTable {
  id: Generated<string>;
  name: string;
  group_id: string;
  region: string | null;
  labels: ColumnType<Record<string, string>, string | undefined, string>;
  status: string;
  health: Generated<string>;
  agent_status: string | null;
  agent_token_hash: string | null;
  enrollment_token_id: string | null;
  running_module_digests: ColumnType<Record<string, string>, string | undefined, string>;
  enrolled_at: Timestamp;
  last_heartbeat_at: Timestamp | null;
  terminated_at: Timestamp | null;
  terminated_by: string | null;
}

export interface GroupModuleVersionsTable {
  group_id: string;
  module_id: string;
  version_id: string;
  assigned_by: string;
  assigned_at: Timestamp;
}

export interface InstanceDesiredVersionsTable {
  instance_id: string;
  module_id: string;
  version_id: string;
  assigned_by: string;
  assigned_at: Timestamp;
}

export interface InstanceEffectiveVersionsView {
  instance_id: string;
  module_id: string;
  module_name: string;
  version_id: string;
  version: string;
  digest: string;
}

export interface InterventionPoliciesTable {
  action: string;
  mode: string;
  four_eyes: boolean;
  updated_by: string;
  updated_at: Timestamp;
}

type Json<T> = ColumnType<T, string, string>;

export interface ApprovalRequestsTable {
  id: Generated<string>;
  kind: string;
  subject_type: string;
  subject_id: string;
  summary: Json<Record<string, unknown>>;
  options: Json<string[]>;
  action: string;
  four_eyes: boolean;
  requested_by: string;
  status: string;
  created_at: Timestamp;
  expires_at: Timestamp;
  decided_by: string | null;
  decided_at: Timestamp | null;
  decision: string | null;
  chosen_option: string | null;
  reason: string | null;
  edits: ColumnType<Record<string, unknown> | null, string | null, string | null>;
  superseded_by: string | null;
  /** Who requested or edited earlier versions of this plan: never its decider under four-eyes. */
  excluded_deciders: ColumnType<string[], string[] | undefined, string[]>;
}

export interface RolloutsTable {
  id: Generated<string>;
  group_id: string;
  module_id: string;
  target_version_id: string;
  strategy: Json<Record<string, unknown>>;
  max_consecutive_failures: number;
  health_timeout_sec: number;
  max_failure_pct: ColumnType<string | null, number | null, number | null>;
  min_sample: number | null;
  soak_sec: number;
  state: string;
  total_instances: number;
  batch_count: number;
  current_batch: Generated<number>;
  consecutive_failures: Generated<number>;
  failure_run_ids: ColumnType<string[], string | undefined, string>;
  healthy_total: Generated<number>;
  failed_total: Generated<number>;
  breaker_trips: Generated<number>;
  next_batch_at: Timestamp | null;
  requested_by: string;
  approval_request_id: string | null;
  federation_rollout_ref: string | null;
  /** Synchronized federated leg: the highest batch index it may start; null = no barrier. */
  barrier_batch: number | null;
  /** Scoped to these instances of the group; null: every live instance. */
  instance_ids: string[] | null;
  /** The peer that started this rollout as its leg of a federated rollout; null for local rollouts. */
  federation_origin_peer_id: string | null;
  reason: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  started_at: Timestamp | null;
  finished_at: Timestamp | null;
}

export interface RolloutBatchesTable {
  rollout_id: string;
  batch_index: number;
  phase: string;
  instance_count: number;
  healthy_count: Generated<number>;
  failed_count: Generated<number>;
  started_at: Timestamp | null;
  completed_at: Timestamp | null;
}

export interface RolloutTargetsTable {
  rollout_id: string;
  instance_id: string;
  batch_index: number;
  position: number;
  state: string;
  previous_version_id: string | null;
  previous_override: Generated<boolean>;
  started_at: Timestamp | null;
  deadline_at: Timestamp | null;
  finished_at: Timestamp | null;
  outcome_reason: string | null;
}

export interface LearningsTable {
  id: Generated<string>;
  title: string;
  category: string;
  content: string;
  tags: ColumnType<string[], string[], string[]>;
  created_by: string;
  created_at: Timestamp;
}

export interface PlatformKeysTable {
  id: Generated<string>;
  algorithm: Generated<string>;
  key_id: string;
  public_key: string;
  /** PKCS#8 PEM: read only by the platform signer's loader. */
  private_key: string;
  active: Generated<boolean>;
  created_at: Timestamp;
  retired_at: Timestamp | null;
}

export interface FederationPeersTable {
  id: Generated<string>;
  name: string;
  status: string;
  spawn_role: string;
  spawn_mode: string;
  remote_platform_url: string | null;
  remote_platform_id: string | null;
  contract_version: string | null;
  public_key: string | null;
  public_key_id: string | null;
  region: string | null;
  acceptance_token_hash: string | null;
  token_expires_at: Timestamp | null;
  last_heartbeat_at: Timestamp | null;
  last_rtt_ms: number | null;
  created_by: string;
  created_at: Timestamp;
  updated_at: Timestamp;
  accepted_at: Timestamp | null;
  activated_at: Timestamp | null;
  revoked_at: Timestamp | null;
  /** When a replica last claimed this peering's heartbeat turn. */
  last_heartbeat_sent_at: Timestamp | null;
  /** The newest sequence of OUR log for this peering that the peer said it recorded. */
  acked_sequence: Generated<string>;
  chain_mismatch_at: Timestamp | null;
  chain_mismatch_sequence: string | null;
  /** The data residency policy the remote side declared for us at the handshake (display only). */
  remote_data_residency: ColumnType<unknown, string | null | undefined, string | null>;
  /** Online instances per group, as the peer last reported in a heartbeat (null: never). */
  reported_capacity: ColumnType<Record<string, number> | null, string | null | undefined, string | null>;
  /** The peer's declared cost per instance (numeric: pg returns a string). */
  reported_cost_per_instance: ColumnType<string | null, number | null | undefined, number | null>;
  capacity_reported_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  /** The region an admin pinned for the peer; when set, residency decisions use it, not `region`. */
  pinned_region: string | null;
  region_pinned_by: string | null;
  region_pinned_at: Timestamp | null;
  /** Kinds this side's heartbeats to the peer leave out now, for its data residency policy. */
  heartbeat_withheld_kinds: ColumnType<string[], string[] | undefined, string[]>;
}

export interface FederationOutboxTable {
  id: Generated<string>;
  federation_peer_id: string;
  operation: string;
  idempotency_key: string;
  on_behalf_of: string | null;
  args: Json<Record<string, unknown>>;
  status: string;
  attempts: Generated<number>;
  next_attempt_at: Timestamp;
  last_error: string | null;
  response_status: number | null;
  response: ColumnType<unknown, string | null, string | null>;
  created_by: string;
  created_at: Timestamp;
  updated_at: Timestamp;
  finished_at: Timestamp | null;
}

export interface FederationInboxTable {
  federation_peer_id: string;
  idempotency_key: string;
  operation: string;
  response: ColumnType<unknown, string | null, string | null>;
  received_at: Timestamp;
}

export interface FederationChainHeadsTable {
  federation_peer_id: string;
  sequence: string;
  hash: string;
  reported_at: Timestamp;
}

export interface FederationNoncesTable {
  peer_id: string;
  nonce: string;
  seen_at: Timestamp;
}

/** Signed requests refused before a signature verified, counted per peer, reason and hour. */
export interface FederationRefusalsTable {
  id: Generated<string>;
  federation_peer_id: string | null;
  reason: string;
  hour: Timestamp;
  count: ColumnType<string, number, number>;
  first_at: Timestamp;
  last_at: Timestamp;
  last_request: string;
  last_message: string;
}

/** Write-once: sequence, prev_hash and hash are set by the database's chain trigger. */
export interface PeerAuditLogTable {
  federation_peer_id: string;
  sequence: ColumnType<string, never, never>;
  at: Timestamp;
  actor: string;
  action: string;
  payload: ColumnType<Record<string, unknown>, string, never>;
  prev_hash: ColumnType<string, never, never>;
  hash: ColumnType<string, never, never>;
}

export interface FederationGrantsTable {
  id: Generated<string>;
  federation_peer_id: string;
  /** issued: we granted the peer rights here (enforced); received: the peer granted us (a mirror). */
  direction: string;
  scopes: ColumnType<string[], string[], string[]>;
  status: string;
  expires_at: Timestamp;
  issued_by: string;
  reason: string | null;
  created_at: Timestamp;
  revoked_at: Timestamp | null;
  revoked_by: string | null;
  archived_at: Timestamp | null;
}

export interface BoundaryRulesTable {
  id: Generated<string>;
  federation_peer_id: string;
  direction: string;
  action: string;
  capability: string;
  priority: number;
  created_by: string;
  created_at: Timestamp;
}

/** Which local operator a peer may act as when it names one of its operators; revoked rows stay. */
export interface PeerIdentityBindingsTable {
  id: Generated<string>;
  federation_peer_id: string;
  remote_operator: string;
  local_operator_id: string;
  reason: string | null;
  created_by: string;
  created_at: Timestamp;
  revoked_at: Timestamp | null;
  revoked_by: string | null;
}

export interface DataResidencyPoliciesTable {
  federation_peer_id: string;
  resource_kinds: ColumnType<string[], string[], string[]>;
  constraint: string;
  region: string;
  set_by: string;
  set_at: Timestamp;
}

export interface ResidencyOverridesTable {
  id: Generated<string>;
  federation_peer_id: string;
  resource_kinds: ColumnType<string[], string[], string[]>;
  reason: string;
  created_by: string;
  created_at: Timestamp;
  consumed_at: Timestamp | null;
  consumed_action: string | null;
}

export interface SpawnedChildrenTable {
  /** The child_instance_id spawn_child_platform returned. */
  id: string;
  federation_peer_id: string | null;
  name: string;
  spawn_mode: string;
  region: string | null;
  provider: string;
  url: string | null;
  port: number | null;
  data_dir: string | null;
  pid: number | null;
  hostname: string | null;
  status: string;
  created_by: string;
  created_at: Timestamp;
  updated_at: Timestamp;
  terminated_at: Timestamp | null;
  last_error: string | null;
}

export interface ClusterMembersTable {
  id: Generated<string>;
  name: string;
  region: string | null;
  url: string | null;
  pid: number;
  hostname: string;
  started_at: Timestamp;
  last_seen_at: Timestamp;
  stopped_at: Timestamp | null;
}

export interface FederatedRolloutsTable {
  id: Generated<string>;
  module_name: string;
  module_id: string | null;
  target_version: string;
  group_name: string;
  strategy: Json<Record<string, unknown>>;
  coordination: string;
  max_consecutive_failures: number;
  health_timeout_sec: number;
  include_local: boolean;
  state: string;
  /** Synchronized: the highest batch index any leg may start; null when independent. */
  barrier_batch: number | null;
  created_by: string;
  created_at: Timestamp;
  updated_at: Timestamp;
  finished_at: Timestamp | null;
  reason: string | null;
}

export interface FederatedRolloutLegsTable {
  id: Generated<string>;
  federated_rollout_id: string;
  /** null: this platform's own leg. */
  federation_peer_id: string | null;
  peer_name: string;
  group_name: string;
  state: string;
  /** The rollout on the leg's platform. */
  local_rollout_id: string | null;
  current_batch: Generated<number>;
  batch_count: number | null;
  completed_batches: Generated<number>;
  healthy_total: Generated<number>;
  failed_total: Generated<number>;
  pending_approval_ids: ColumnType<string[], string | undefined, string>;
  waiting_for: string | null;
  last_contact_at: Timestamp | null;
  lost_contact: Generated<boolean>;
  last_error: string | null;
  start_outbox_id: string | null;
  updated_at: Timestamp;
}

export interface MigrationChainsTable {
  id: string;
  origin_name: string;
  /** This platform's hop: 0 at the origin. */
  hop_index: number;
  migration: ColumnType<unknown, string, string>;
  path: ColumnType<unknown, string, string>;
  requested_by: string;
  upstream_peer_id: string | null;
  downstream_peer_id: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface MigrationChainHopsTable {
  chain_id: string;
  hop_index: number;
  platform_name: string;
  status: string;
  approval_request_id: string | null;
  decided_by: string | null;
  decided_at: Timestamp | null;
  error: string | null;
  updated_at: Timestamp;
}

export interface FederatedDeploymentsTable {
  id: Generated<string>;
  name: string;
  module_name: string;
  version: string;
  replicas: number;
  group_name: string;
  include_local: boolean;
  placement: Json<Record<string, unknown>>;
  overrides: Json<Record<string, unknown>>;
  peers: Json<string[]>;
  failback: boolean;
  rollout: Json<Record<string, unknown>>;
  state: string;
  created_by: string;
  created_at: Timestamp;
  updated_at: Timestamp;
  deleted_at: Timestamp | null;
}

export interface FederatedDeploymentSharesTable {
  id: Generated<string>;
  federated_deployment_id: string;
  /** null: this platform's own share. */
  federation_peer_id: string | null;
  peer_name: string;
  planned_replicas: number;
  desired_replicas: number;
  version: string;
  group_name: string;
  assigned: number | null;
  running_healthy: number | null;
  drifted: number | null;
  last_contact_at: Timestamp | null;
  propagated_at: ColumnType<Date | null, never, Date | string | null>; // not set on insert: not propagated yet
  last_error: string | null;
  state: string;
  updated_at: Timestamp;
}

export interface FederatedDeploymentAssignmentsTable {
  federated_deployment_id: string;
  instance_id: string;
  /** null: a deployment created on this platform. */
  origin_peer_id: string | null;
  module_id: string;
  version_id: string;
  assigned_at: Timestamp;
}

export interface Database {
  intervention_policies: InterventionPoliciesTable;
  approval_requests: ApprovalRequestsTable;
  rollouts: RolloutsTable;
  rollout_batches: RolloutBatchesTable;
  rollout_targets: RolloutTargetsTable;
  learnings: LearningsTable;
  instance_effective_versions: InstanceEffectiveVersionsView;
  groups: GroupsTable;
  enrollment_tokens: EnrollmentTokensTable;
  instances: InstancesTable;
  group_module_versions: GroupModuleVersionsTable;
  instance_desired_versions: InstanceDesiredVersionsTable;
  platform: PlatformTable;
  operators: OperatorsTable;
  events: EventsTable;
  event_kinds: EventKindsTable;
  modules: ModulesTable;
  module_versions: ModuleVersionsTable;
  platform_keys: PlatformKeysTable;
  federation_peers: FederationPeersTable;
  federation_nonces: FederationNoncesTable;
  peer_audit_log: PeerAuditLogTable;
  federation_refusals: FederationRefusalsTable;
  data_residency_policies: DataResidencyPoliciesTable;
  residency_overrides: ResidencyOverridesTable;
  federation_grants: FederationGrantsTable;
  boundary_rules: BoundaryRulesTable;
  peer_identity_bindings: PeerIdentityBindingsTable;
  federation_outbox: FederationOutboxTable;
  federation_inbox: FederationInboxTable;
  federation_chain_heads: FederationChainHeadsTable;
  spawned_children: SpawnedChildrenTable;
  cluster_members: ClusterMembersTable;
  federated_rollouts: FederatedRolloutsTable;
  federated_rollout_legs: FederatedRolloutLegsTable;
  migration_chains: MigrationChainsTable;
  migration_chain_hops: MigrationChainHopsTable;
  federated_deployments: FederatedDeploymentsTable;
  federated_deployment_shares: FederatedDeploymentSharesTable;
  federated_deployment_assignments: FederatedDeploymentAssignmentsTable;
}
