// Domain objects as services return them (camelCase, no row shapes). Types only: no I/O.
import type { LifecycleState } from './lifecycle.js';
import type { Role } from './roles.js';

export interface Operator {
  id: string;
  name: string;
  role: Role;
  createdBy: string;
  createdAt: Date;
  revokedAt: Date | null;
}

export interface Module {
  id: string;
  name: string;
  createdBy: string;
  createdAt: Date;
}

export interface ModuleVersion {
  id: string;
  moduleId: string;
  moduleName: string;
  version: string;
  digest: string;
  lifecycleState: LifecycleState;
  createdBy: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface FlotillaEvent {
  id: string;
  kind: string;
  at: Date;
  actor: string;
  payload: Record<string, unknown>;
}

/** An event to append: `at` comes from the injected clock. */
export interface NewEvent {
  kind: string;
  actor: string;
  payload: Record<string, unknown>;
}
