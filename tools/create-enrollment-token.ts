// create_enrollment_token: lets agents join a group (creating the group on first use).
import { z } from 'zod';
import { safeText } from '../src/domain/text.js';
import { groupNameSchema, labelsSchema, regionSchema } from '../src/domain/names.js';
import { defineTool } from '../src/mcp/define-tool.js';
import { isoTime } from '../src/mcp/schemas.js';
import { DEFAULT_ENROLLMENT_TTL_SEC } from '../src/services/fleet-service.js';
import { groupRefFrom } from './shared/fleet-views.js';

export default defineTool({
  name: 'create_enrollment_token',
  title: 'Create enrollment token',
  description:
    'Issues a reusable enrollment token for a group (created if new when named by group) and returns it once; writes enrollment_token.created.',
  role: 'operator',
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  input: {
    group: groupNameSchema.optional().describe('group name; created if it does not exist (or give template_id)'),
    template_id: safeText({ min: 1 }).optional().describe('id or name of an existing group (or give group)'),
    ttl_sec: z
      .number()
      .int()
      .min(60)
      .max(30 * 24 * 3600)
      .optional()
      .describe('lifetime in seconds, default 86400 (24 h)'),
    region: regionSchema.optional().describe('region recorded on instances that enroll with it'),
    labels: labelsSchema.optional().describe('labels recorded on instances that enroll with it'),
  },
  output: {
    enrollment_token_id: z.string(),
    token: z.string().describe('the enrollment token; shown only now'),
    group: z.object({ id: z.string(), name: z.string(), created: z.boolean() }),
    expires_at: isoTime,
  },
  handler: async ({ services, caller }, input) => {
    const { token, enrollmentToken, groupCreated } = await services.fleet.createEnrollmentToken(caller, {
      group: groupRefFrom(input),
      ttlSec: input.ttl_sec ?? DEFAULT_ENROLLMENT_TTL_SEC,
      region: input.region ?? null,
      labels: input.labels ?? {},
    });
    return {
      enrollment_token_id: enrollmentToken.id,
      token,
      group: { id: enrollmentToken.groupId, name: enrollmentToken.groupName, created: groupCreated },
      expires_at: enrollmentToken.expiresAt.toISOString(),
    };
  },
});
