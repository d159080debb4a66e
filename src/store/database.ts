// Kysely table types for the store. Types only: no I/O.
import type { ColumnType, Generated } from 'kysely';

type Timestamp = ColumnType<Date, Date | string, Date | string>;

export interface PlatformTable {
  singleton: Generated<boolean>;
  id: Generated<string>;
  created_at: Generated<Date>;
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

export interface Database {
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
}
