// revoke_enrollment_token: stops a token from enrolling more agents (enrolled ones keep working).
import { z } from 'zod';
import { safeText } from '../src/domain/text.js';
import { defineTool } from '../src/mcp/define-tool.js';
import { isoTime } from '../src/mcp/schemas.js';

export default defineTool({
  name: 'revoke_enrollment_token',
  title: 'Revoke enrollment token',
  description:
    'Revokes an enrollment token so no further agent can enroll with it (already enrolled agents keep their own tokens); writes enrollment_token.revoked.',
  role: 'operator',
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  input: { enrollment_token_id: safeText({ min: 1 }).describe('id returned by create_enrollment_token') },
  output: {
    enrollment_token_id: z.string(),
    group: z.object({ id: z.string(), name: z.string() }),
    revoked_at: isoTime,
  },
  handler: async ({ services, caller }, input) => {
    const t = await services.fleet.revokeEnrollmentToken(caller, input.enrollment_token_id);
    return {
      enrollment_token_id: t.id,
      group: { id: t.groupId, name: t.groupName },
      revoked_at: (t.revokedAt ?? new Date()).toISOString(),
    };
  },
});
