// Fleet manifests for tests and the manifest benchmark: a realistic one of a given number of module
// versions (10 per module, every version a full digest and lifecycle state), and shapes at the limits.
/** A valid manifest declaring `versions` module versions, 10 per module (modules `mod-0000`, …). */
export function fleetManifest(versions: number): string {
  const lines = ['apiVersion: flotilla/v1', 'kind: Fleet', 'modules:'];
  for (let n = 0; n < versions; n += 10) {
    lines.push(`  - module_name: mod-${String(n / 10).padStart(4, '0')}`, '    versions:');
    for (let v = n; v < Math.min(n + 10, versions); v++) {
      lines.push(
        `      - version: 1.${v % 10}.0`,
        `        digest: sha256:${(v % 16).toString(16).repeat(64)}`,
        '        lifecycle_state: published',
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

/** The most module versions `fleetManifest` can declare within the limits. */
export const LARGEST_FLEET_VERSIONS = 2_660;

/** A mapping of `keys` distinct keys at the top level (the shape that froze the process). */
export function flatKeys(keys: number): string {
  let text = '';
  for (let i = 0; i < keys; i++) text += `k${i}: 1\n`;
  return text;
}

/** An alias chain (each level 10 aliases of the one before): 10^levels nodes once expanded. */
export function aliasBomb(levels: number): string {
  let text = 'l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n';
  for (let i = 1; i <= levels; i++)
    text += `l${i}: &l${i} [${Array<string>(10)
      .fill(`*l${i - 1}`)
      .join(', ')}]\n`;
  return text;
}
