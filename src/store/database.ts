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

export interface Database {
  platform: PlatformTable;
  operators: OperatorsTable;
  events: EventsTable;
  event_kinds: EventKindsTable;
  modules: ModulesTable;
  module_versions: ModuleVersionsTable;
}
