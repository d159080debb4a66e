// MCP resources: read-only views addressed by flotilla:// URIs, answered for the calling operator.
import type { Caller } from '../domain/roles.js';
import { NotFoundError } from '../errors.js';
import type { Services } from '../services/index.js';

export interface ResourceListing {
  uri: string;
  name: string;
  description: string;
  mimeType: string;
}

export interface ResourceTemplateListing {
  uriTemplate: string;
  name: string;
  description: string;
  mimeType: string;
}

export const STATIC_RESOURCES: ResourceListing[] = [
  {
    uri: 'flotilla://platform',
    name: 'platform',
    description: 'This platform: id, name, region, contract version, store, reconciler, and you as the caller',
    mimeType: 'application/json',
  },
];

export const RESOURCE_TEMPLATES: ResourceTemplateListing[] = [
  {
    uriTemplate: 'flotilla://modules/{module_name}',
    name: 'module',
    description: 'A module with its first 500 versions and their lifecycle states',
    mimeType: 'application/json',
  },
];

/** Reads one resource as JSON text. */
export async function readResource(uri: string, services: Services, caller: Caller): Promise<unknown> {
  if (uri === 'flotilla://platform') return services.platform.info(caller);
  const module = /^flotilla:\/\/modules\/([^/]+)$/.exec(uri);
  if (module?.[1] !== undefined) {
    const { module: m, page } = await services.modules.listVersions({
      module: { moduleName: decodeURIComponent(module[1]) },
      limit: 500,
    });
    return { module: m, versions: page.items };
  }
  throw new NotFoundError(`no resource ${uri}`, {
    hint: 'resources/list and resources/templates/list show what exists',
  });
}
