// Where a CLI command takes a secret token from: its environment variable (preferred), a file, or the
// command line — which other users can read in the process list, so that form prints a warning.
import fs from 'node:fs';
import { InvalidInputError } from '../errors.js';
import { sayErr } from './output.js';

/** The flags, variable and wording for one kind of token. */
export interface TokenFlags {
  /** The flag carrying the token itself, e.g. 'token'. */
  flag: string;
  /** Its environment variable, e.g. 'FLOTILLA_TOKEN'. */
  env: string;
  /** What the token is, for messages: 'an operator token'. */
  what: string;
}

/** The help lines every command taking such a token shows. */
export function tokenHelp(t: TokenFlags): string {
  return (
    `${t.env} or --${t.flag}-file PATH (${t.what}; preferred), or --${t.flag} T, which other users of this\n` +
    `machine can read in the process list (ps): flotilla warns when it is used.`
  );
}

/**
 * The token from --FLAG-file, --FLAG (with a warning on stderr) or the environment variable, in that
 * order; undefined when none is set. Both flags at once, or an unreadable or empty file, is refused.
 */
export function resolveToken(
  t: TokenFlags,
  values: { fromFlag: string | undefined; fromFile: string | undefined },
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  if (values.fromFlag !== undefined && values.fromFile !== undefined) {
    throw new InvalidInputError(`pass either --${t.flag} or --${t.flag}-file, not both`);
  }
  if (values.fromFile !== undefined) return readTokenFile(t, values.fromFile);
  if (values.fromFlag !== undefined) {
    sayErr(
      `flotilla: warning: --${t.flag} is visible to other users of this machine in the process list; ` +
        `set ${t.env} or use --${t.flag}-file PATH instead`,
    );
    return values.fromFlag === '' ? undefined : values.fromFlag;
  }
  const fromEnv = env[t.env];
  return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
}

function readTokenFile(t: TokenFlags, file: string): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new InvalidInputError(
      `cannot read --${t.flag}-file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
  const token = text.trim();
  if (token === '' || /\s/.test(token)) {
    throw new InvalidInputError(`--${t.flag}-file ${file} must hold ${t.what} and nothing else`);
  }
  return token;
}
