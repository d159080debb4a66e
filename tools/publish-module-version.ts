// publish_module_version: registers a build of a module (creating the module if new).
import { z } from 'zod';
import { digestSchema, moduleNameSchema, versionSchema } from '../src/domain/names.js';
import { defineTool } from '../src/mcp/define-tool.js';
import { moduleVersionView, toVersionView } from './shared/views.js';

export default defineTool({
  name: 'publish_module_version',
  title: 'Publish module version',
  description:
    'Creates the module if it is new and the version in published (or draft) state; re-publishing the same digest changes nothing; writes a module.version.published event.',
  role: 'operator',
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  input: {
    module_name: moduleNameSchema.describe('module name, e.g. nginx'),
    version: versionSchema.describe('version string, unique within the module, e.g. 1.26.0'),
    digest: digestSchema.describe('content digest of the build, sha256:<64 hex>'),
    draft: z.boolean().optional().describe('create in draft instead of published (default false)'),
  },
  output: {
    version: moduleVersionView,
    created: z.boolean().describe('false when this exact version and digest already existed'),
  },
  handler: async ({ services, caller }, input) => {
    const { version, created } = await services.modules.publish(caller, {
      moduleName: input.module_name,
      version: input.version,
      digest: input.digest,
      draft: input.draft ?? false,
    });
    return { version: toVersionView(version), created };
  },
});
