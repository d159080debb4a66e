// Facts about this platform for get_platform_info and /healthz.
import { sql } from 'kysely';
import { impliedRoles, type Caller, type Role } from '../domain/roles.js';
import type { Reconciler } from '../scheduler/reconciler.js';
import type { StoreKind } from '../store/db.js';
import type { ServiceDeps } from './context.js';

/** The peer protocol contract this build speaks; federation negotiates it. */
export const CONTRACT_VERSION = '1.0';

export interface PlatformIdentity {
  id: string;
  name: string;
  region: string | null;
  storeKind: StoreKind;
  startedAt: Date;
}

export interface PlatformInfo extends PlatformIdentity {
  contractVersion: string;
  tickMs: number;
  lastTickAt: Date | null;
  lastTickDurationMs: number | null;
  caller: { name: string; role: Role; roles: Role[] };
}

export class PlatformService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly identity: PlatformIdentity,
    private readonly reconciler: Reconciler,
    private readonly tickMs: number,
  ) {}

  info(caller: Caller): PlatformInfo {
    const tick = this.reconciler.lastTick;
    return {
      ...this.identity,
      contractVersion: CONTRACT_VERSION,
      tickMs: this.tickMs,
      lastTickAt: tick?.at ?? null,
      lastTickDurationMs: tick?.durationMs ?? null,
      caller: { name: caller.name, role: caller.role, roles: impliedRoles(caller.role) },
    };
  }

  /** True when the store answers a trivial query. */
  async storeHealthy(): Promise<boolean> {
    try {
      await sql`SELECT 1`.execute(this.deps.db);
      return true;
    } catch {
      return false;
    }
  }
}
