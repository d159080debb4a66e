// `flotilla tools` and `flotilla call`: act on a running platform over HTTP as an operator
// (--url/FLOTILLA_URL, --token/FLOTILLA_TOKEN), never by opening its store.
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { InvalidInputError } from '../errors.js';
import { connectHttpClient, type FlotillaClient } from '../mcp/client.js';
import { say, sayErr } from './output.js';
import { resolveToken, tokenHelp, type TokenFlags } from './token-source.js';

/** The operator token every command acting over HTTP takes. */
export const OPERATOR_TOKEN: TokenFlags = { flag: 'token', env: 'FLOTILLA_TOKEN', what: 'an operator token' };

export const CLIENT_HELP = `Usage:
  flotilla tools [--url URL]                              list the platform's tools
  flotilla call TOOL ['{"json":"args"}'] [--url URL]
                                                           call one tool, print its result as JSON

--url / FLOTILLA_URL (default http://127.0.0.1:7410).
Token: ${tokenHelp(OPERATOR_TOKEN)}
Exit status 1 when the tool answers with an error.
`;

const urlSchema = z.url();

/**
 * Connects to the platform named by --url / FLOTILLA_URL as the operator of FLOTILLA_TOKEN,
 * --token-file or --token (which warns: it shows in the process list).
 */
export async function connect(values: {
  url?: string | undefined;
  token?: string | undefined;
  'token-file'?: string | undefined;
}): Promise<FlotillaClient> {
  const url = values.url ?? (process.env.FLOTILLA_URL || 'http://127.0.0.1:7410');
  if (!urlSchema.safeParse(url).success) throw new InvalidInputError(`invalid setting --url / FLOTILLA_URL: not a URL`);
  const token = resolveToken(OPERATOR_TOKEN, { fromFlag: values.token, fromFile: values['token-file'] });
  if (token === undefined) {
    throw new InvalidInputError('an operator token is needed: set FLOTILLA_TOKEN or pass --token-file PATH');
  }
  return connectHttpClient(url, token);
}

export async function clientCommand(command: 'tools' | 'call', argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      token: { type: 'string' },
      'token-file': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    say(CLIENT_HELP);
    return 0;
  }
  let args: Record<string, unknown> = {};
  const [toolName, rawArgs] = positionals;
  if (command === 'call') {
    if (toolName === undefined)
      throw new InvalidInputError('flotilla call needs a TOOL name (flotilla tools lists them)');
    if (rawArgs !== undefined) {
      try {
        args = JSON.parse(rawArgs) as Record<string, unknown>;
      } catch {
        throw new InvalidInputError('tool arguments must be one JSON object, e.g. \'{"module_name":"nginx"}\'');
      }
    }
  }
  const client = await connect(values);
  try {
    if (command === 'tools') {
      for (const tool of await client.listTools()) say(`${tool.name.padEnd(28)} ${tool.description ?? ''}`);
      return 0;
    }
    const result = await client.callTool(toolName!, args);
    if (result.isError) {
      sayErr(result.text.split('\n')[0] ?? 'error');
      return 1;
    }
    say(JSON.stringify(result.structured, null, 2));
    return 0;
  } finally {
    await client.close();
  }
}
