// How diff_manifest and apply_manifest show a manifest's changes.
import { z } from 'zod';
import { MANIFEST_SECTIONS, MAX_MANIFEST_CHARS } from '../../src/domain/manifest.js';
import type { ManifestResult } from '../../src/services/manifest-service.js';

export const manifestInput = z
  .string()
  .min(1)
  .max(MAX_MANIFEST_CHARS)
  .describe(
    'the manifest text, YAML or JSON: apiVersion flotilla/v1, kind Fleet, and any of modules, intervention_policies, peers, federated_deployments (examples/fleet.yaml)',
  );

export const manifestChangeView = z.strictObject({
  section: z.enum(MANIFEST_SECTIONS).describe('the kind of item'),
  path: z.string().describe('where the item is in the manifest, e.g. modules[0].versions[1]'),
  target: z.string().describe('the item, e.g. nginx 1.26.0 or peer-b priority 10'),
  change: z.enum(['create', 'update', 'delete', 'none']).describe('none: already as declared'),
  detail: z.string().describe('what is (or would be) done, or why nothing is'),
});

export const manifestCountsView = z
  .strictObject({
    create: z.number().int(),
    update: z.number().int(),
    delete: z.number().int(),
    none: z.number().int(),
  })
  .describe('changes by kind');

export function toChangeViews(result: ManifestResult): Array<z.infer<typeof manifestChangeView>> {
  return result.changes.map((c) => ({
    section: c.section,
    path: c.path,
    target: c.target,
    change: c.change,
    detail: c.detail,
  }));
}

export function countsLine(counts: ManifestResult['counts']): string {
  return `${counts.create} to create, ${counts.update} to update, ${counts.delete} to delete, ${counts.none} unchanged`;
}
