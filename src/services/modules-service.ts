// Module inventory: publish versions, move them through their lifecycle, list and resolve them.
import { checkLifecycleTransition, type LifecycleState } from '../domain/lifecycle.js';
import { isUuid } from '../domain/names.js';
import { decodeCursor, decodeTimeIdCursor, toPage, type Page } from '../domain/paging.js';
import type { Caller } from '../domain/roles.js';
import type { Module, ModuleVersion } from '../domain/types.js';
import { ConflictError, IllegalTransitionError, InvalidInputError, NotFoundError } from '../errors.js';
import { appendEvent } from '../store/events-repository.js';
import type { Db } from '../store/executor.js';
import {
  findModule,
  findVersion,
  insertVersion,
  listModules,
  listVersions,
  setVersionLifecycle,
  upsertModule,
  type ModuleSummaryRow,
} from '../store/modules-repository.js';
import type { ServiceDeps } from './context.js';
import { requireRole } from './operators-service.js';

/** A module named by id or by name (exactly one). */
export type ModuleRef = { moduleId: string } | { moduleName: string };

export interface PublishResult {
  version: ModuleVersion;
  /** False when the same version with the same digest already existed (an idempotent retry). */
  created: boolean;
}

export class ModulesService {
  constructor(private readonly deps: ServiceDeps) {}

  /** Creates the module if new and the version in `published` (or `draft`). Re-publishing the same digest is a no-op. */
  async publish(
    caller: Caller,
    input: { moduleName: string; version: string; digest: string; draft: boolean },
    db?: Db,
  ): Promise<PublishResult> {
    requireRole(caller, 'operator', 'publishing a module version');
    // Within the caller's transaction when given (a peer call or an approval applying a migration).
    const inTransaction = <T>(fn: (trx: Db) => Promise<T>): Promise<T> =>
      db?.isTransaction === true ? fn(db) : (db ?? this.deps.db).transaction().execute(fn);
    return inTransaction(async (trx) => {
      const now = this.deps.clock.now();
      const module = await upsertModule(trx, input.moduleName, caller.name, now);
      const state: LifecycleState = input.draft ? 'draft' : 'published';
      const inserted = await insertVersion(trx, {
        moduleId: module.id,
        version: input.version,
        digest: input.digest,
        lifecycleState: state,
        createdBy: caller.name,
        at: now,
      });
      if (inserted === null) {
        const existing = await findVersion(trx, { moduleId: module.id, version: input.version });
        if (existing === null) throw new Error(`version ${input.version} vanished during publish`);
        if (existing.digest !== input.digest) {
          throw new ConflictError(
            `${input.moduleName} ${input.version} is already published with digest ${existing.digest}; versions are immutable`,
            { hint: 'publish the new build under a new version string', details: { version_id: existing.id } },
          );
        }
        return { version: existing, created: false };
      }
      await appendEvent(
        trx,
        {
          kind: 'module.version.published',
          actor: caller.name,
          payload: {
            module_id: module.id,
            module_name: module.name,
            version_id: inserted.id,
            version: input.version,
            digest: input.digest,
            lifecycle_state: state,
          },
        },
        now,
      );
      const version = await findVersion(trx, { id: inserted.id });
      return { version: version!, created: true };
    });
  }

  /** Moves a version one legal step; refuses anything else naming the legal next states. */
  async promote(
    caller: Caller,
    input: { versionRef: string; module?: ModuleRef; to: LifecycleState },
  ): Promise<{ version: ModuleVersion; from: LifecycleState }> {
    requireRole(caller, 'operator', 'promoting a module version');
    return this.deps.db.transaction().execute(async (trx) => {
      const current = await this.resolveVersionIn(trx, input.versionRef, input.module, true);
      const check = checkLifecycleTransition(current.lifecycleState, input.to);
      const label = `${current.moduleName} ${current.version}`;
      if (!check.ok) {
        const legal = check.legal.join(', ');
        throw new IllegalTransitionError(
          check.reason === 'same_state'
            ? `${label} is already ${input.to}`
            : `${label} cannot go from ${current.lifecycleState} to ${input.to}; legal next states: ${legal}`,
          {
            hint: `promote one step at a time: ${current.lifecycleState} → ${legal}`,
            details: { legal_next_states: check.legal },
          },
        );
      }
      requireRole(caller, check.requiredRole, `moving ${label} from ${current.lifecycleState} to ${input.to}`);
      const now = this.deps.clock.now();
      await setVersionLifecycle(trx, current.id, input.to, now);
      await appendEvent(
        trx,
        {
          kind: 'module.version.promoted',
          actor: caller.name,
          payload: {
            module_id: current.moduleId,
            module_name: current.moduleName,
            version_id: current.id,
            version: current.version,
            from: current.lifecycleState,
            to: input.to,
          },
        },
        now,
      );
      return { version: { ...current, lifecycleState: input.to, updatedAt: now }, from: current.lifecycleState };
    });
  }

  async listModules(opts: { limit: number; cursor?: string }): Promise<Page<ModuleSummaryRow>> {
    const afterName = opts.cursor === undefined ? undefined : decodeCursor(opts.cursor, ['name']).name;
    const rows = await listModules(this.deps.db, {
      limit: opts.limit,
      ...(afterName === undefined ? {} : { afterName }),
    });
    return toPage(rows, opts.limit, (m) => ({ name: m.name }));
  }

  async listVersions(opts: {
    module: ModuleRef;
    limit: number;
    cursor?: string;
    lifecycleState?: LifecycleState;
  }): Promise<{ module: Module; page: Page<ModuleVersion> }> {
    const module = await this.resolveModule(this.deps.db, opts.module);
    const after =
      opts.cursor === undefined
        ? undefined
        : (({ createdAt, id }) => ({ createdAt: createdAt.toISOString(), id }))(decodeTimeIdCursor(opts.cursor));
    const rows = await listVersions(this.deps.db, {
      moduleId: module.id,
      limit: opts.limit,
      ...(opts.lifecycleState === undefined ? {} : { lifecycleState: opts.lifecycleState }),
      ...(after === undefined ? {} : { after }),
    });
    return { module, page: toPage(rows, opts.limit, (v) => ({ created_at: v.createdAt.toISOString(), id: v.id })) };
  }

  /** A module by id or name; `not_found` names it as the caller gave it. */
  async resolveModule(db: Db, ref: ModuleRef): Promise<Module> {
    const module =
      'moduleId' in ref
        ? isUuid(ref.moduleId)
          ? await findModule(db, { id: ref.moduleId })
          : null
        : await findModule(db, { name: ref.moduleName });
    if (module === null) {
      const given = 'moduleId' in ref ? `id ${ref.moduleId}` : ref.moduleName;
      throw new NotFoundError(`no module ${given}`, { hint: 'list_modules shows the modules this platform knows' });
    }
    return module;
  }

  /** A version by id, or by version string within a module (module required then). */
  async resolveVersion(versionRef: string, module?: ModuleRef, db: Db = this.deps.db): Promise<ModuleVersion> {
    return this.resolveVersionIn(db, versionRef, module, false);
  }

  private async resolveVersionIn(
    db: Db,
    versionRef: string,
    moduleRef: ModuleRef | undefined,
    forUpdate: boolean,
  ): Promise<ModuleVersion> {
    if (isUuid(versionRef)) {
      const found = await findVersion(db, { id: versionRef }, { forUpdate });
      if (found === null) throw new NotFoundError(`no module version with id ${versionRef}`);
      if (moduleRef !== undefined) {
        const module = await this.resolveModule(db, moduleRef);
        if (module.id !== found.moduleId) {
          throw new InvalidInputError(
            `version ${versionRef} belongs to module ${found.moduleName}, not ${module.name}`,
          );
        }
      }
      return found;
    }
    if (moduleRef === undefined) {
      throw new InvalidInputError(`version "${versionRef}" is not an id, so the module is needed to find it`, {
        hint: 'pass module_name (or module_id) with a version string, or pass the version id',
      });
    }
    const module = await this.resolveModule(db, moduleRef);
    const found = await findVersion(db, { moduleId: module.id, version: versionRef }, { forUpdate });
    if (found === null) {
      throw new NotFoundError(`module ${module.name} has no version ${versionRef}`, {
        hint: `list_module_versions with module_name ${module.name} shows its versions`,
      });
    }
    return found;
  }
}
