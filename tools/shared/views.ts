// Output shapes shared by several tools, and the mappers from domain objects to them.
import { z } from 'zod';
import { safeText } from '../../src/domain/text.js';
import { LIFECYCLE_STATES } from '../../src/domain/lifecycle.js';
import type { ModuleVersion, Operator } from '../../src/domain/types.js';
import { ROLES } from '../../src/domain/roles.js';
import { InvalidInputError } from '../../src/errors.js';
import { isoTime } from '../../src/mcp/schemas.js';
import type { ModuleRef } from '../../src/services/modules-service.js';

export const moduleVersionView = z.object({
  id: z.string(),
  module_id: z.string(),
  module_name: z.string(),
  version: z.string(),
  digest: z.string(),
  lifecycle_state: z.enum(LIFECYCLE_STATES),
  created_by: z.string(),
  created_at: isoTime,
  updated_at: isoTime,
});

export function toVersionView(v: ModuleVersion): z.infer<typeof moduleVersionView> {
  return {
    id: v.id,
    module_id: v.moduleId,
    module_name: v.moduleName,
    version: v.version,
    digest: v.digest,
    lifecycle_state: v.lifecycleState,
    created_by: v.createdBy,
    created_at: v.createdAt.toISOString(),
    updated_at: v.updatedAt.toISOString(),
  };
}

export const operatorView = z.object({
  id: z.string(),
  name: z.string(),
  role: z.enum(ROLES),
  created_by: z.string(),
  created_at: isoTime,
  revoked_at: isoTime.nullable(),
});

export function toOperatorView(o: Operator): z.infer<typeof operatorView> {
  return {
    id: o.id,
    name: o.name,
    role: o.role,
    created_by: o.createdBy,
    created_at: o.createdAt.toISOString(),
    revoked_at: o.revokedAt?.toISOString() ?? null,
  };
}

export const moduleRefInput = {
  module_name: safeText({ min: 1 }).optional().describe('module name, e.g. nginx (or give module_id)'),
  module_id: safeText({ min: 1 }).optional().describe('module id (or give module_name)'),
};

/** Exactly one of module_name / module_id, as a service ModuleRef. */
export function moduleRefFrom(input: { module_name?: string | undefined; module_id?: string | undefined }): ModuleRef {
  if (input.module_name !== undefined && input.module_id !== undefined) {
    throw new InvalidInputError('give module_name or module_id, not both');
  }
  if (input.module_id !== undefined) return { moduleId: input.module_id };
  if (input.module_name !== undefined) return { moduleName: input.module_name };
  throw new InvalidInputError('module_name or module_id is required', { hint: 'list_modules shows the modules' });
}
