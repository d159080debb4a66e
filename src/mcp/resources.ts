// MCP resources: read-only views addressed by flotilla:// URIs, answered for the calling operator.
import { moduleNameSchema } from '../domain/names.js';
import type { Caller } from '../domain/roles.js';
import { unstorableTextReason } from '../domain/text.js';
import { InvalidInputError, NotFoundError } from '../errors.js';
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
  {
    uriTemplate: 'flotilla://rollouts/{rollout_id}',
    name: 'rollout-plan',
    description: "A rollout's full plan: the rollout, its batches, and every per-instance target in upgrade order",
    mimeType: 'application/json',
  },
];

/** Page size used to read every target of a rollout. */
const TARGETS_PAGE = 500;

/** A percent-encoded URI segment decoded, refused as invalid input when it is not valid UTF-8 or storable text. */
function uriSegment(uri: string, encoded: string, what: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(encoded);
  } catch {
    throw new InvalidInputError(`${what} in ${uri} has a malformed percent-escape`, {
      hint: 'percent-encode the segment as UTF-8 (encodeURIComponent), as resources/templates/list shows',
    });
  }
  const reason = unstorableTextReason(decoded);
  if (reason !== null) throw new InvalidInputError(`${what} in ${uri} ${reason}`);
  return decoded;
}

/** Reads one resource as JSON text. */
export async function readResource(uri: string, services: Services, caller: Caller): Promise<unknown> {
  if (uri === 'flotilla://platform') return services.platform.info(caller);
  const module = /^flotilla:\/\/modules\/([^/]+)$/.exec(uri);
  if (module?.[1] !== undefined) {
    const moduleName = uriSegment(uri, module[1], 'the module name');
    if (!moduleNameSchema.safeParse(moduleName).success) {
      throw new InvalidInputError(`the module name in ${uri} is not a module name`, {
        hint: 'module names are lowercase letters, digits, ".", "_" or "-" (list_modules shows them)',
      });
    }
    const { module: m, page } = await services.modules.listVersions({ module: { moduleName }, limit: 500 });
    return { module: m, versions: page.items };
  }
  const rollout = /^flotilla:\/\/rollouts\/([^/]+)$/.exec(uri);
  if (rollout?.[1] !== undefined) return readRolloutPlan(services, uriSegment(uri, rollout[1], 'the rollout id'));
  throw new NotFoundError(`no resource ${uri}`, {
    hint: 'resources/list and resources/templates/list show what exists',
  });
}

/** The rollout and every target, paging through the targets until the last page. */
async function readRolloutPlan(services: Services, id: string): Promise<unknown> {
  const { rollout, batches } = await services.rollouts.get(id);
  const targets = [];
  let cursor: string | undefined;
  do {
    const page = await services.rollouts.targets(id, {
      limit: TARGETS_PAGE,
      ...(cursor === undefined ? {} : { cursor }),
    });
    targets.push(...page.items);
    const last = page.items[page.items.length - 1];
    cursor = page.hasMore && last !== undefined ? page.cursorFor(last) : undefined;
  } while (cursor !== undefined);
  return { rollout, batches, targets };
}
