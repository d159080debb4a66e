// `flotilla diff -f FILE` and `flotilla apply -f FILE`: a fleet manifest against a running platform over
// HTTP as an operator (diff_manifest / apply_manifest), never by opening its store.
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { InvalidInputError } from '../errors.js';
import { connect, OPERATOR_TOKEN } from './client-commands.js';
import { say, sayErr } from './output.js';
import { tokenHelp } from './token-source.js';

export const MANIFEST_HELP = `Usage:
  flotilla diff -f FILE [--url URL]     what applying the manifest would change
  flotilla apply -f FILE [--url URL]    make the platform match the manifest

FILE is a fleet manifest in YAML or JSON (apiVersion: flotilla/v1, kind: Fleet; see examples/fleet.yaml).
Sections: modules, intervention_policies, peers (data_residency, boundary_rules), federated_deployments.
--url / FLOTILLA_URL (default http://127.0.0.1:7410). Changing policies, residency, boundary rules or
federated deployments needs an admin's token. Token: ${tokenHelp(OPERATOR_TOKEN)}
apply validates the whole manifest first and applies nothing if any part is invalid; applying it again
changes nothing. Exit status 1 when the platform refuses (every error is printed, located by its path).
`;

interface ChangeView {
  path: string;
  target: string;
  change: string;
  detail: string;
}

export async function manifestCommand(command: 'diff' | 'apply', argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      file: { type: 'string', short: 'f' },
      url: { type: 'string' },
      token: { type: 'string' },
      'token-file': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    say(MANIFEST_HELP);
    return 0;
  }
  if (positionals.length > 0) throw new InvalidInputError(`unexpected argument "${positionals[0]}"`);
  if (values.file === undefined) throw new InvalidInputError(`flotilla ${command} needs -f FILE, a fleet manifest`);
  let manifest: string;
  try {
    manifest = fs.readFileSync(values.file, 'utf8');
  } catch (err) {
    throw new InvalidInputError(`cannot read ${values.file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  const client = await connect(values);
  try {
    const result = await client.callTool(command === 'diff' ? 'diff_manifest' : 'apply_manifest', { manifest });
    if (result.isError) {
      const [line = 'error', json] = result.text.split('\n');
      const errors = errorsIn(json);
      if (errors.length === 0) {
        sayErr(line);
        return 1;
      }
      const code = line.slice(0, Math.max(0, line.indexOf(':')));
      sayErr(`${code}: ${values.file} was refused with ${errors.length} error(s); nothing was applied`);
      for (const e of errors) sayErr(`  ${e.path}: ${e.message}`);
      return 1;
    }
    const out = result.structured as { changes?: ChangeView[]; applied?: ChangeView[]; summary: string };
    for (const c of (out.changes ?? out.applied ?? []).filter((c) => c.change !== 'none')) {
      say(`${c.change.padEnd(7)} ${c.target}: ${c.detail}  (${c.path})`);
    }
    say(out.summary);
    return 0;
  } finally {
    await client.close();
  }
}

/** The located errors in a tool error's JSON, if it carries them. */
function errorsIn(json: string | undefined): Array<{ path: string; message: string }> {
  if (json === undefined) return [];
  try {
    const parsed = JSON.parse(json) as { error?: { details?: { errors?: Array<{ path: string; message: string }> } } };
    return parsed.error?.details?.errors ?? [];
  } catch {
    return [];
  }
}
