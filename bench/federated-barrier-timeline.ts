// Benchmark 6's barrier timeline, from the records each platform keeps (federated-barrier-records.ts):
// for every barrier k → k+1, when the slowest leg completed batch k, when its push reached the origin,
// when each leg's barrier was set and its batch k+1 started. Pure: records in, rows and lines out.
import type { LegEvents } from './federated-barrier-records.js';
import { formatTable, ms, summarize } from './measure.js';

/** One leg's records; times are ms since the epoch, read from its own platform's database. */
export interface LegRecords {
  name: string;
  /** false for the origin's own leg (it is set in the origin's process; it pushes nothing). */
  remote: boolean;
  events: LegEvents;
  /** When its platform finished applying the set_barrier raising it to each batch (remote legs). */
  applied: Map<number, number>;
  /** When its platform accepted each signed request from the origin (remote legs), ascending. */
  fromOrigin: number[];
  /** When the origin accepted each signed request from this leg's platform (remote legs), ascending. */
  toOrigin: number[];
  /** When this leg's platform got the answer to each rollouts.leg_progress push it sent, ascending. */
  pushesAnswered: number[];
}

/** A barrier; every time but completedAt is ms after completedAt. */
export interface Barrier {
  k: number;
  slowest: string;
  /** The slowest leg's batch_completed `at` for batch k (the start of the tick that completed it). */
  completedAt: number;
  /** Its push reached the origin; null when the origin's own leg was the slowest. */
  pushIn: number | null;
  pushAnswered: number | null;
  /** The origin's own leg's barrier_set. */
  originSet: number;
  /** The first set_barrier a target accepted (its nonce), and each target's accept → barrier_set. */
  firstCallIn: number;
  callToSet: number[];
  firstPeerSet: number;
  lastPeerSet: number;
  /** The slowest target handler: barrier_set `at` to its set_barrier audit entry. */
  handlerMax: number;
  last: string;
  /** The last leg to start batch k+1: the wait. */
  wait: number;
}

const at = (m: Map<number, number>, k: number, who: string, what: string): number => {
  const t = m.get(k);
  if (t === undefined) throw new Error(`${who} has no ${what} for batch ${k}`);
  return t;
};

export function barrierTimeline(legsIn: readonly LegRecords[], batchCount: number): Barrier[] {
  const barriers: Barrier[] = [];
  for (let k = 0; k + 1 < batchCount; k++) {
    const legs = legsIn.map((l) => ({
      ...l,
      completed: at(l.events.completed, k, l.name, 'batch_completed'),
      started: at(l.events.started, k + 1, l.name, 'batch_started'),
      raised: at(l.events.raised, k + 1, l.name, 'barrier_set'),
    }));
    const slowest = legs.reduce((a, b) => (b.completed > a.completed ? b : a));
    const last = legs.reduce((a, b) => (b.started > a.started ? b : a));
    const origin = legs.find((l) => !l.remote)!;
    const remote = legs.filter((l) => l.remote);
    const c = slowest.completed;
    // In the tick that completes a batch, the runner's push is its platform's first signed call to the origin
    // (heartbeats are a later step); a set_barrier is the origin's last call a target accepted before its barrier_set.
    const callsIn = remote.map((l) => l.fromOrigin.filter((t) => t <= l.raised).at(-1) ?? Number.NaN);
    const after = (ts: number[]): number | null => {
      const t = ts.find((x) => x >= c);
      return t === undefined ? null : t - c;
    };
    barriers.push({
      k,
      slowest: slowest.name,
      completedAt: c,
      pushIn: slowest.remote ? after(slowest.toOrigin) : null,
      pushAnswered: slowest.remote ? after(slowest.pushesAnswered) : null,
      originSet: origin.raised - c,
      firstCallIn: Math.min(...callsIn) - c,
      callToSet: remote.map((l, i) => l.raised - callsIn[i]!),
      firstPeerSet: Math.min(...remote.map((l) => l.raised)) - c,
      lastPeerSet: Math.max(...remote.map((l) => l.raised)) - c,
      handlerMax: Math.max(...remote.map((l) => (l.applied.get(k + 1) ?? Number.NaN) - l.raised)),
      last: last.name,
      wait: last.started - c,
    });
  }
  return barriers;
}

const plus = (x: number | null): string =>
  x === null ? 'local' : !Number.isFinite(x) ? '-' : x >= 0 ? `+${x}` : `${x}`;

/** The table of barriers; `t0` (ms) is when the first batch started. */
export function formatTimeline(barriers: readonly Barrier[], t0: number, tickMs: number): string {
  return formatTable(
    [
      'barrier',
      'slowest leg',
      'completed k at',
      'push in',
      'origin leg set',
      'first call in',
      'first peer set',
      'last peer set',
      'push answered',
      'last start = wait ms',
      'last leg',
      `≤ ${tickMs} ms`,
    ],
    barriers.map((b) => [
      `${b.k} → ${b.k + 1}`,
      b.slowest,
      `${((b.completedAt - t0) / 1000).toFixed(3)} s`,
      plus(b.pushIn),
      plus(b.originSet),
      plus(b.firstCallIn),
      plus(b.firstPeerSet),
      plus(b.lastPeerSet),
      plus(b.pushAnswered),
      String(b.wait),
      b.last,
      b.wait <= tickMs ? 'yes' : 'NO',
    ]),
  );
}

export const TIMELINE_LEGEND =
  '  (ms after the slowest leg completed batch k, by the `at` of its batch_completed event, which is its ' +
  "tick's start. push in: the origin accepted that leg's rollouts.leg_progress (its nonce; local: the origin's " +
  "own leg, which pushes nothing); origin leg set: module.upgrade.barrier_set on the origin's own leg; first call " +
  'in: a target accepted the first set_barrier (its nonce); peer set: barrier_set on the targets, taken after the ' +
  "handler's signature check, gates and contact update (the batch starts at the same `at`); push answered: the " +
  'slowest peer got the answer to its push (its audited peer.call.sent))';

/** median / max of the finite values, '-' when none. */
function seg(xs: ReadonlyArray<number | null>): string {
  const v = xs.filter((x): x is number => x !== null && Number.isFinite(x));
  if (v.length === 0) return '-';
  const s = summarize(v);
  return `${ms(s.p50)} / ${ms(s.max)}`;
}

/** Where the wait goes, step by step: median / max ms over the barriers. */
export function describeSegments(barriers: readonly Barrier[]): string {
  const pushed = barriers.filter((b) => b.pushIn !== null);
  const local = barriers.filter((b) => b.pushIn === null);
  return (
    `  where the wait goes (median / max ms over barriers): ` +
    `slowest peer's tick start → its push in ${seg(pushed.map((b) => b.pushIn))}; ` +
    `push in → first set_barrier in (the origin's handling) ${seg(pushed.map((b) => b.firstCallIn - b.pushIn!))}; ` +
    (local.length === 0
      ? ''
      : `origin slowest (${local.length}×): its tick start → first set_barrier in ${seg(local.map((b) => b.firstCallIn))}; `) +
    `a target's set_barrier in → its barrier_set ${seg(barriers.flatMap((b) => b.callToSet))}; ` +
    `first → last peer set ${seg(barriers.map((b) => b.lastPeerSet - b.firstPeerSet))}. ` +
    `Beside: origin's own leg set − first set_barrier in ${seg(barriers.map((b) => b.originSet - b.firstCallIn))}; ` +
    `not in the wait: a target's set_barrier handler after its barrier_set ${seg(barriers.map((b) => b.handlerMax))} ` +
    '(slowest target)'
  );
}
