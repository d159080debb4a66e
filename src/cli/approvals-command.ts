// `flotilla approvals`: list approval requests and approve or reject one, over HTTP as an operator
// (list_approvals / decide_approval), never by opening the store.
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { InvalidInputError } from '../errors.js';
import { connect, OPERATOR_TOKEN } from './client-commands.js';
import { say, sayErr, table } from './output.js';
import { tokenHelp } from './token-source.js';

export const APPROVALS_HELP = `Usage:
  flotilla approvals list [--status S] [--kind K] [--limit N]     approval requests, newest first
  flotilla approvals approve ID [--option O] [--reason R]         approve a request
  flotilla approvals reject ID [--reason R]                       reject a request

Every form takes --url URL / FLOTILLA_URL (default http://127.0.0.1:7410) and a token:
${tokenHelp(OPERATOR_TOKEN)}
list shows pending requests unless --status says otherwise (pending, approved,
rejected, expired, superseded); --kind is rollout_plan or rolling_upgrade_continuation. Deciding needs
the approver role, and with four-eyes someone other than the requester. Approving a circuit-breaker
continuation needs --option continue_anyway, rollback_completed_batches or abort.
Exit status 1 when the platform refuses.
`;

const idSchema = z.string().min(1);

interface Approval {
  id: string;
  kind: string;
  status: string;
  requested_by: string;
  expires_at: string;
  options: string[];
  summary: Record<string, unknown>;
}

function parseLimit(raw: string | undefined): number {
  if (raw === undefined) return 50;
  const parsed = z.coerce.number().int().min(1).safeParse(raw);
  if (!parsed.success) throw new InvalidInputError(`invalid --limit ${raw}: a whole number of at least 1`);
  return parsed.data;
}

/** One line saying what a request is about, from its summary. */
function about(a: Approval): string {
  const s = a.summary;
  const what = `${String(s.module_name ?? '?')} → ${String(s.target_version ?? '?')} in ${String(s.group ?? '?')}`;
  return a.kind === 'rolling_upgrade_continuation'
    ? `${what}: breaker tripped in batch ${String(s.batch_index)} (${String(s.reason ?? '')})`
    : `${what}: ${String(s.total_instances ?? '?')} instances in ${String(s.batch_count ?? '?')} batches`;
}

export async function approvalsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      token: { type: 'string' },
      'token-file': { type: 'string' },
      status: { type: 'string' },
      kind: { type: 'string' },
      limit: { type: 'string' },
      option: { type: 'string' },
      reason: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    say(APPROVALS_HELP);
    return 0;
  }
  const [sub, id, ...extra] = positionals;
  if (sub !== 'list' && sub !== 'approve' && sub !== 'reject') {
    throw new InvalidInputError('flotilla approvals needs list, approve ID or reject ID (see --help)');
  }
  if (extra.length > 0) throw new InvalidInputError(`unexpected argument "${extra[0]}"`);
  if (sub !== 'list' && !idSchema.safeParse(id).success) {
    throw new InvalidInputError(`flotilla approvals ${sub} needs an approval request ID (flotilla approvals list)`);
  }
  if (sub === 'list' && id !== undefined) throw new InvalidInputError(`unexpected argument "${id}"`);
  const args: Record<string, unknown> =
    sub === 'list'
      ? {
          status: values.status ?? 'pending',
          ...(values.kind === undefined ? {} : { kind: values.kind }),
          limit: parseLimit(values.limit),
        }
      : {
          approval_request_id: id,
          decision: sub,
          ...(values.option === undefined ? {} : { option: values.option }),
          ...(values.reason === undefined ? {} : { reason: values.reason }),
        };
  const client = await connect(values);
  try {
    const result = await client.callTool(sub === 'list' ? 'list_approvals' : 'decide_approval', args);
    if (result.isError) {
      sayErr(result.text.split('\n')[0] ?? 'error');
      return 1;
    }
    if (sub === 'list') {
      const out = result.structured as { approvals: Approval[]; next_cursor: string | null };
      table(
        out.approvals.map((a) => ({
          id: a.id,
          kind: a.kind,
          status: a.status,
          requested_by: a.requested_by,
          expires_at: a.expires_at,
          options: a.options.join('|') || '-',
          about: about(a),
        })),
      );
      if (out.next_cursor !== null) say('(more requests: raise --limit or narrow --status / --kind)');
      return 0;
    }
    const out = result.structured as {
      approval: { id: string; status: string; option: string | null };
      rollout_state: string | null;
    };
    say(
      `${out.approval.status} ${out.approval.id}` +
        (out.approval.option === null ? '' : ` with ${out.approval.option}`) +
        (out.rollout_state === null ? '' : `; rollout is now ${out.rollout_state}`),
    );
    return 0;
  } finally {
    await client.close();
  }
}
