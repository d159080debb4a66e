// promote_module_version: moves a version one legal step through its lifecycle.
import { z } from 'zod';
import { safeText } from '../src/domain/text.js';
import { LIFECYCLE_STATES } from '../src/domain/lifecycle.js';
import { defineTool } from '../src/mcp/define-tool.js';
import { moduleRefFrom, moduleRefInput, moduleVersionView, toVersionView } from './shared/views.js';

export default defineTool({
  name: 'promote_module_version',
  title: 'Promote module version',
  description:
    'Moves a version one step (draft → published → blessed → live; published, blessed or live → archived; archived → published needs admin); writes a module.version.promoted event.',
  role: 'operator',
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  input: {
    version_id: safeText({ min: 1 }).describe(
      'version id, or the version string (e.g. 1.26.0) together with module_name or module_id',
    ),
    lifecycle_state: z.enum(LIFECYCLE_STATES).describe('the state to move to'),
    ...moduleRefInput,
  },
  output: {
    version: moduleVersionView,
    previous_state: z.enum(LIFECYCLE_STATES),
  },
  handler: async ({ services, caller }, input) => {
    const hasModule = input.module_name !== undefined || input.module_id !== undefined;
    const { version, from } = await services.modules.promote(caller, {
      versionRef: input.version_id,
      to: input.lifecycle_state,
      ...(hasModule ? { module: moduleRefFrom(input) } : {}),
    });
    return { version: toVersionView(version), previous_state: from };
  },
});
