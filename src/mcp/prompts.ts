// MCP prompts: approval reviews rendered for an assistant (the plan or the breaker trip, each option and
// what it does, and the decide_approval call to make), plus completion of pending approval ids.
// Reads only: deciding is always the decide_approval tool's job. What a peer supplied is shown as quoted
// data labelled with that peer (peer-text.ts), never as prose an assistant could take for instructions.
import type { ApprovalKind, ApprovalRequest } from '../domain/approvals.js';
import type { Rollout, RolloutBatch } from '../domain/rollout.js';
import type { Strategy } from '../domain/strategy.js';
import { estimatedTotalSeconds } from '../domain/strategy.js';
import { InvalidInputError, NotFoundError } from '../errors.js';
import type { Services } from '../services/index.js';
import { inlineName, peerDataBlock } from './peer-text.js';

export interface PromptListing {
  name: string;
  title: string;
  description: string;
  arguments: Array<{ name: string; description: string; required: boolean }>;
}

/** A type, not an interface, so it satisfies the SDK's open result type. */
export type PromptResult = {
  description: string;
  messages: Array<{ role: 'user'; content: { type: 'text'; text: string } }>;
};

const APPROVAL_ARGUMENT = {
  name: 'approval_request_id',
  description: 'the approval request to review (completion offers the pending ones)',
  required: true,
};

/** Which kind of pending request each prompt's completion offers (undefined: any). */
const COMPLETES: Record<string, ApprovalKind | undefined> = {
  review_approval: undefined,
  circuit_breaker_decision: 'rolling_upgrade_continuation',
};

export const PROMPTS: PromptListing[] = [
  {
    name: 'review_approval',
    title: 'Review an approval request',
    description:
      'Shows a pending approval request (a rollout plan or a circuit-breaker continuation) with its options and how to decide it',
    arguments: [APPROVAL_ARGUMENT],
  },
  {
    name: 'circuit_breaker_decision',
    title: 'Decide after a circuit breaker trip',
    description:
      'Shows where a rolling upgrade tripped its circuit breaker (batch, failed instances, reason) and what continue_anyway, rollback_completed_batches and abort each do',
    arguments: [APPROVAL_ARGUMENT],
  },
];

/** Renders a prompt as one user message. Unknown prompts, missing arguments and unknown requests throw. */
export async function getPrompt(
  name: string,
  args: Record<string, string> | undefined,
  services: Services,
): Promise<PromptResult> {
  if (!(name in COMPLETES)) {
    throw new NotFoundError(`no prompt named ${name}`, { hint: 'prompts/list shows the prompts' });
  }
  const id = args?.approval_request_id;
  if (id === undefined || id === '') {
    throw new InvalidInputError('argument approval_request_id is required', {
      hint: 'list_approvals with status pending shows the ids',
    });
  }
  const approval = await services.approvals.get(id);
  if (name === 'circuit_breaker_decision' && approval.kind !== 'rolling_upgrade_continuation') {
    throw new InvalidInputError(`approval request ${id} is a ${approval.kind}, not a circuit breaker continuation`, {
      hint: 'use the review_approval prompt for it',
    });
  }
  if (approval.kind === 'migration_hop') {
    return {
      description: `Migration chain gate awaiting a decision: approval request ${approval.id}`,
      messages: [
        {
          role: 'user',
          content: { type: 'text', text: `${header(approval)}\n\n${renderGate(approval)}\n\n${closing(approval)}` },
        },
      ],
    };
  }
  const view = await services.rollouts.get(approval.subjectId).catch((err: unknown) => {
    if (err instanceof NotFoundError) return null;
    throw err;
  });
  const body =
    approval.kind === 'rollout_plan' ? renderPlan(approval, view) : renderTrip(approval, view?.rollout ?? null);
  return {
    description: `${approval.kind === 'rollout_plan' ? 'Rollout plan' : 'Circuit breaker trip'} awaiting a decision: approval request ${approval.id}`,
    messages: [
      { role: 'user', content: { type: 'text', text: `${header(approval)}\n\n${body}\n\n${closing(approval)}` } },
    ],
  };
}

/** Pending approval ids starting with `prefix`, newest first, at most 100. */
export async function completeApprovalId(
  promptName: string,
  argument: string,
  prefix: string,
  services: Services,
): Promise<{ values: string[]; total: number; hasMore: boolean }> {
  if (!(promptName in COMPLETES) || argument !== APPROVAL_ARGUMENT.name)
    return { values: [], total: 0, hasMore: false };
  const kind = COMPLETES[promptName];
  const matches: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await services.approvals.list({
      status: 'pending',
      limit: 500,
      ...(kind === undefined ? {} : { kind }),
      ...(cursor === undefined ? {} : { cursor }),
    });
    for (const a of page.items) if (a.id.startsWith(prefix.toLowerCase())) matches.push(a.id);
    const last = page.items[page.items.length - 1];
    cursor = page.hasMore && last !== undefined ? page.cursorFor(last) : undefined;
  } while (cursor !== undefined && matches.length <= 100);
  return { values: matches.slice(0, 100), total: matches.length, hasMore: matches.length > 100 };
}

function header(a: ApprovalRequest): string {
  const fourEyes = a.fourEyes
    ? `four-eyes applies: ${inlineName(a.requestedBy)} requested it and may not decide it`
    : 'no four-eyes rule';
  return (
    `Approval request ${a.id} (${a.kind}) is ${a.status}. Requested by ${inlineName(a.requestedBy)} at ${a.createdAt.toISOString()}, ` +
    `expires ${a.expiresAt.toISOString()}; ${fourEyes}; governed by the ${a.action} intervention policy.`
  );
}

function describeStrategy(s: Strategy): string {
  switch (s.type) {
    case 'batch':
      return `batches of ${s.batch_pct}% of the group`;
    case 'percentage':
      return `cumulative steps to ${s.steps.join('%, ')}% of the group`;
    case 'canary_step_up':
      return `a canary of ${s.canary_count} instance(s), then steps of ${s.step_pct}% of the group`;
  }
}

function breakerLine(r: Rollout): string {
  const pct =
    r.maxFailurePct === null
      ? ''
      : `, or once ${r.minSample ?? 10} instances finished, when more than ${r.maxFailurePct}% of them failed`;
  return `Circuit breaker: trips after ${r.maxConsecutiveFailures} consecutive failed instance(s)${pct}, then asks for a continuation decision.`;
}

function listIds(ids: readonly string[], max = 20): string {
  if (ids.length === 0) return '(none)';
  const shown = ids.slice(0, max).join(', ');
  return ids.length > max ? `${shown} and ${ids.length - max} more` : shown;
}

function renderPlan(a: ApprovalRequest, view: { rollout: Rollout; batches: RolloutBatch[] } | null): string {
  const call = (extra: string): string => `decide_approval({ approval_request_id: "${a.id}", ${extra} })`;
  const options = [
    'Options:',
    `- approve — ${call('decision: "approve", reason: "…"')}: the reconciler starts batch 0 on its next tick and ` +
      'walks the batches one at a time, health-checking every instance.',
    `- reject — ${call('decision: "reject", reason: "…"')}: the rollout is aborted and no instance is touched.`,
    `- edit — ${call('decision: "approve", edits: { batch_pct: 10, max_consecutive_failures: 1 }')}: re-plans with ` +
      'smaller batches or a stricter breaker; this request is superseded by a new one that must be decided in turn.',
  ].join('\n');
  if (view === null)
    return `The plan (its rollout no longer exists):\n${JSON.stringify(a.summary, null, 2)}\n\n${options}`;
  const r = view.rollout;
  const batches = view.batches.map(
    (b) => `  - batch ${b.index}: ${b.instanceCount} instance(s), ${b.phase}; first: ${listIds(b.instanceIds, 5)}`,
  );
  return [
    `The plan: upgrade ${r.moduleName} in group ${r.groupName} to version ${r.targetVersion} (${r.targetDigest}).`,
    `- ${r.totalInstances} instance(s) in ${r.batchCount} batch(es): ${describeStrategy(r.strategy)}.`,
    `- Health window ${r.healthTimeoutSec} s per instance, soak ${r.soakSec} s between batches; estimated ` +
      `${estimatedTotalSeconds(r.batchCount, r.healthTimeoutSec, r.soakSec)} s in total.`,
    `- ${breakerLine(r)}`,
    `- Rollout ${r.id} is ${r.state}; every target is listed at flotilla://rollouts/${r.id}.`,
    '- Batches:',
    ...batches,
    '',
    options,
  ].join('\n');
}

function renderTrip(a: ApprovalRequest, r: Rollout | null): string {
  const s = a.summary;
  const failed = Array.isArray(s.failed_instance_ids) ? (s.failed_instance_ids as string[]) : [];
  const call = (option: string): string =>
    `decide_approval({ approval_request_id: "${a.id}", decision: "approve", option: "${option}", reason: "…" })`;
  return [
    `The circuit breaker tripped on rollout ${String(s.rollout_id)}: ${String(s.module_name)} to version ` +
      `${String(s.target_version)} in group ${String(s.group)}.`,
    `- Batch: ${String(s.batch_index)}`,
    `- Failed instances: ${listIds(failed)}`,
    `- Reason: ${String(s.reason)}`,
    ...(r === null
      ? []
      : [
          `- Progress: ${r.healthyTotal} healthy and ${r.failedTotal} failed of ${r.totalInstances} instance(s); ` +
            `batch ${r.currentBatch + 1} of ${r.batchCount}; the rollout is ${r.state}.`,
        ]),
    '',
    'Options (approve with exactly one; rejecting the request aborts):',
    `- continue_anyway — ${call('continue_anyway')}: ignores the trip, resets the consecutive-failure count and ` +
      'goes on with the remaining instances. Use only when the failures are transient.',
    `- rollback_completed_batches — ${call('rollback_completed_batches')}: restores every instance this rollout ` +
      'upgraded to its previous version (refused if that version is archived). Use when the new version is flawed.',
    `- abort — ${call('abort')}: stops here and leaves every instance as it is, to investigate the failed ones.`,
  ].join('\n');
}

/**
 * A migration chain's gate on this hop: what arrives, from where, and where it goes next. The origin, path,
 * migration and requester are the sending peer's word: shown only inside its labelled data block.
 */
function renderGate(a: ApprovalRequest): string {
  const s = a.summary;
  const fromPeer = String(s.from_peer ?? 'unknown');
  const relaysTo = typeof s.relays_to === 'string' ? inlineName(s.relays_to) : '';
  return [
    `Migration chain ${inlineName(String(s.migration_chain_id))} reached this platform from ${inlineName(fromPeer)} ` +
      `as hop ${Number(s.hop_index)}. What it carries:`,
    peerDataBlock(fromPeer, [
      ['origin', s.origin],
      ...(s.path === undefined ? [] : [['path', s.path] as const]),
      ['migration', s.migration],
      ['requested_by', a.requestedBy],
    ]),
    `- approve — ${`decide_approval({ approval_request_id: "${a.id}", decision: "approve" })`}: applies that ` +
      'migration here' +
      (relaysTo === '' ? ' (the last hop).' : `, then relays it to ${relaysTo}.`),
    `- reject — ${`decide_approval({ approval_request_id: "${a.id}", decision: "reject", reason })`}: stops the ` +
      'chain here; the origin sees this hop rejected.',
  ].join('\n');
}

function closing(a: ApprovalRequest): string {
  if (a.status !== 'pending') {
    return (
      `This request is ${a.status}` +
      (a.decidedBy === null ? '' : ` (decided by ${inlineName(a.decidedBy)})`) +
      (a.supersededBy === null ? '' : `; decide ${a.supersededBy} instead`) +
      '; it can no longer be decided here.'
    );
  }
  const investigate =
    a.kind === 'rolling_upgrade_continuation'
      ? 'Look at the failed instances first (get_rollout with batch_index, get_instance, recent_events with kind_prefix "module.upgrade"). '
      : '';
  return (
    `${investigate}Weigh the options, recommend one with a one-line reason, and once the operator agrees call ` +
    `decide_approval with approval_request_id "${a.id}" as shown above.` +
    (a.fourEyes
      ? ` The caller must be an approver other than ${inlineName(a.requestedBy)}.`
      : ' The caller must be an approver.')
  );
}
