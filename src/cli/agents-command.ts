// `flotilla agents`: runs the agent simulator against a platform until interrupted.
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { AgentSimulator, parseModulePairs } from '../agents/simulator.js';
import { InvalidInputError } from '../errors.js';
import { createLogger } from '../logger.js';
import { say } from './output.js';
import { resolveToken, tokenHelp, type TokenFlags } from './token-source.js';

const ENROLL_TOKEN: TokenFlags = { flag: 'enroll-token', env: 'FLOTILLA_ENROLL_TOKEN', what: 'an enrollment token' };

export const AGENTS_HELP = `Usage: flotilla agents --url URL --count N --module nginx=1.24.0 [options]

Runs N simulated agents as real HTTP clients: each enrolls, heartbeats the digests of what it runs,
applies desired versions after a delay, and reports health: failed for versions listed in
--fail-version. Agents retry with backoff while the platform is unreachable.
Enrollment token: ${tokenHelp(ENROLL_TOKEN)}

Options:
  --url URL               platform URL (FLOTILLA_URL, default http://127.0.0.1:7410)
  --enroll-token-file F   file holding the enrollment token (or FLOTILLA_ENROLL_TOKEN)
  --count N               number of agents (default 10)
  --module M=V            a module each agent runs at start (repeatable)
  --fail-version M=V      a version whose health check fails (repeatable)
  --apply-delay-ms D      time to apply a new version (default 1000)
  --interval-ms I         heartbeat interval (default: the platform's)
  --name-prefix P         agent names are P-1 … P-N (default sim)
  --region R              region reported at enrollment
  --status-ms S           print a status line every S ms (default 5000; 0 = never)
`;

const int = (min: number) => z.coerce.number().int().min(min);

export async function agentsCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      url: { type: 'string' },
      'enroll-token': { type: 'string' },
      'enroll-token-file': { type: 'string' },
      count: { type: 'string' },
      module: { type: 'string', multiple: true },
      'fail-version': { type: 'string', multiple: true },
      'apply-delay-ms': { type: 'string' },
      'interval-ms': { type: 'string' },
      'name-prefix': { type: 'string' },
      region: { type: 'string' },
      'status-ms': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    say(AGENTS_HELP);
    return 0;
  }
  const setting = <T>(name: string, schema: z.ZodType<T>, raw: string | undefined): T => {
    const parsed = schema.safeParse(raw);
    if (!parsed.success)
      throw new InvalidInputError(`invalid --${name}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    return parsed.data;
  };
  const url = setting('url', z.url(), values.url ?? (process.env.FLOTILLA_URL || 'http://127.0.0.1:7410'));
  const enrollToken = resolveToken(ENROLL_TOKEN, {
    fromFlag: values['enroll-token'],
    fromFile: values['enroll-token-file'],
  });
  if (enrollToken === undefined) {
    throw new InvalidInputError('an enrollment token is needed: set FLOTILLA_ENROLL_TOKEN or pass --enroll-token-file');
  }
  const count = setting('count', int(1).max(100_000), values.count ?? '10');
  const applyDelayMs = setting('apply-delay-ms', int(0), values['apply-delay-ms'] ?? '1000');
  const intervalMs =
    values['interval-ms'] === undefined ? undefined : setting('interval-ms', int(10), values['interval-ms']);
  const statusMs = setting('status-ms', int(0), values['status-ms'] ?? '5000');
  let modules: Record<string, string>;
  let fails: Record<string, string>;
  try {
    modules = parseModulePairs(values.module ?? [], '--module');
    fails = parseModulePairs(values['fail-version'] ?? [], '--fail-version');
  } catch (err) {
    throw new InvalidInputError((err as Error).message);
  }
  const failVersions = new Set(Object.entries(fails).map(([m, v]) => `${m}=${v}`));

  const logger = createLogger(process.env.LOG_LEVEL || 'warn');
  const sim = new AgentSimulator({
    url,
    enrollToken,
    count,
    modules,
    failVersions,
    applyDelayMs,
    ...(intervalMs === undefined ? {} : { intervalMs }),
    namePrefix: values['name-prefix'] ?? 'sim',
    ...(values.region === undefined ? {} : { region: values.region }),
    logger,
  });
  sim.start();
  say(`flotilla agents: ${count} agents → ${url}`);
  const status = (): void => {
    const s = sim.stats;
    say(
      `agents ${s.enrolled}/${s.agents} enrolled, ${s.healthy} healthy, ${s.failed} failed, ` +
        `heartbeats ${s.heartbeatsOk} ok / ${s.heartbeatErrors} errors, ${s.applied} versions applied` +
        (s.lastError === null ? '' : ` (last error: ${s.lastError})`),
    );
  };
  const timer = statusMs > 0 ? setInterval(status, statusMs) : null;
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  if (timer !== null) clearInterval(timer);
  await sim.stop();
  status();
  return 0;
}
