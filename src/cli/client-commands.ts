// `flotilla tools` and `flotilla call`: act on a running platform over HTTP as an operator
// (--url/FLOTILLA_URL, --token/FLOTILLA_TOKEN), never by opening its store.
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { InvalidInputError } from '../errors.js';
import { connectHttpClient, type FlotillaClient } from '../mcp/client.js';
import { say, sayErr } from './output.js';

export const CLIENT_HELP = `Usage:
  flotilla tools [--url URL] [--token TOKEN]              list the platform's tools
  flotilla call TOOL ['{"json":"args"}'] [--url URL] [--token TOKEN]
                                                           call one tool, print its result as JSON

--url / FLOTILLA_URL (default http://127.0.0.1:7410), --token / FLOTILLA_TOKEN (an operator token).
Exit status 1 when the tool answers with an error.
`;

const urlSchema = z.url();

/** Connects to the platform named by --url / FLOTILLA_URL as the operator of --token / FLOTILLA_TOKEN. */
export async function connect(values: {
  url?: string | undefined;
  token?: string | undefined;
}): Promise<FlotillaClient> {
  const url = values.url ?? (process.env.FLOTILLA_URL || 'http://127.0.0.1:7410');
  if (!urlSchema.safeParse(url).success) throw new InvalidInputError(`invalid setting --url / FLOTILLA_URL: not a URL`);
  const token = values.token ?? process.env.FLOTILLA_TOKEN;
  if (token === undefined || token === '') {
    throw new InvalidInputError('an operator token is needed: pass --token or set FLOTILLA_TOKEN');
  }
  return connectHttpClient(url, token);
}

export async function clientCommand(command: 'tools' | 'call', argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: { url: { type: 'string' }, token: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
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
