// get_platform_info: who and what this platform is, and who the caller is.
import { z } from 'zod';
import { ROLES } from '../src/domain/roles.js';
import { defineTool } from '../src/mcp/define-tool.js';
import { isoTime } from '../src/mcp/schemas.js';

export default defineTool({
  name: 'get_platform_info',
  title: 'Platform info',
  description:
    'Shows this platform: id, name, region, contract version, store kind, reconciler last tick, and the calling operator with its roles; reads only.',
  role: 'viewer',
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  input: {},
  output: {
    platform_id: z.string(),
    name: z.string(),
    region: z.string().nullable(),
    contract_version: z.string(),
    store_kind: z.enum(['postgres', 'pglite']),
    started_at: isoTime,
    reconciler: z.object({
      tick_ms: z.number().int(),
      last_tick_at: isoTime.nullable(),
      last_tick_duration_ms: z.number().nullable(),
    }),
    caller: z.object({ name: z.string(), role: z.enum(ROLES), roles: z.array(z.enum(ROLES)) }),
  },
  handler: async ({ services, caller }) => {
    const info = services.platform.info(caller);
    return {
      platform_id: info.id,
      name: info.name,
      region: info.region,
      contract_version: info.contractVersion,
      store_kind: info.storeKind,
      started_at: info.startedAt.toISOString(),
      reconciler: {
        tick_ms: info.tickMs,
        last_tick_at: info.lastTickAt?.toISOString() ?? null,
        last_tick_duration_ms: info.lastTickDurationMs,
      },
      caller: info.caller,
    };
  },
});
