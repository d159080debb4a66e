// The `flotilla` command: dispatches to subcommands and turns errors into one line and an exit code.
import { agentsCommand } from './cli/agents-command.js';
import { approvalsCommand, APPROVALS_HELP } from './cli/approvals-command.js';
import { clientCommand, CLIENT_HELP } from './cli/client-commands.js';
import { manifestCommand, MANIFEST_HELP } from './cli/manifest-command.js';
import { sayErr, say } from './cli/output.js';
import { serveCommand, SERVE_HELP } from './cli/serve.js';
import { migrateCommand, MIGRATE_HELP, operatorsCommand, OPERATORS_HELP } from './cli/store-commands.js';
import { FlotillaError } from './errors.js';

const HELP = `Usage: flotilla <command> [options]

Commands:
  serve        run a platform (MCP over HTTP at /mcp, or --stdio)
  migrate      bring the store to the newest migration
  operators    add | list | revoke operators (prints a new token once)
  tools        list a running platform's tools (over HTTP, as an operator)
  call         call one tool on a running platform (over HTTP, as an operator)
  agents       run N simulated agents against a platform (enroll, heartbeat, apply versions)
  approvals    list, approve or reject approval requests (over HTTP, as an operator)
  diff         show what applying a fleet manifest would change (over HTTP, as an operator)
  apply        make a running platform match a fleet manifest (over HTTP, as an operator)

Run flotilla <command> --help for the options of each.
${SERVE_HELP.split('\n')[0]}
${MIGRATE_HELP.split('\n')[0]}
${OPERATORS_HELP.split('\n')[1]}
${CLIENT_HELP.split('\n')[1]}
${APPROVALS_HELP.split('\n')[1]}
${MANIFEST_HELP.split('\n')[1]}
${MANIFEST_HELP.split('\n')[2]}
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serveCommand(rest);
    case 'migrate':
      return migrateCommand(rest);
    case 'operators':
      return operatorsCommand(rest);
    case 'agents':
      return agentsCommand(rest);
    case 'approvals':
      return approvalsCommand(rest);
    case 'tools':
    case 'call':
      return clientCommand(command, rest);
    case 'diff':
    case 'apply':
      return manifestCommand(command, rest);
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      say(HELP);
      return command === undefined ? 2 : 0;
    default:
      sayErr(`flotilla: unknown command "${command}"; run flotilla --help`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof FlotillaError) {
      sayErr(`flotilla: ${err.message}${err.hint === undefined ? '' : ` — ${err.hint}`}`);
    } else if (err instanceof TypeError && (err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS') === true) {
      sayErr(`flotilla: ${err.message}; run with --help`);
    } else {
      sayErr(`flotilla: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    }
    process.exitCode = 1;
  },
);
