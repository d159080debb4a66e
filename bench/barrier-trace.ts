// A diagnostic for benchmark 6, off by default: loaded with `--import` into each `flotilla serve` child when
// BENCH_FED_TRACE names a folder, it wraps the methods on the barrier path (reconciler steps, the runner's
// tick and report, the origin's sync, leg progress pushes, peer calls in and out) and writes one JSON line
// per call start and end to <folder>/<platform name>.jsonl. Timing only: arguments and answers pass
// through unchanged. Private methods are wrapped by name, so a rename makes a trace incomplete, not wrong.
import fs from 'node:fs';
import path from 'node:path';

type Method = (...args: unknown[]) => Promise<unknown>;
type Describe = (args: unknown[], result?: unknown) => Record<string, unknown>;

const dir = process.env.BENCH_FED_TRACE;
const nameAt = process.argv.indexOf('--name');
const name = nameAt < 0 ? undefined : process.argv[nameAt + 1];

if (dir !== undefined && dir !== '' && name !== undefined && process.argv.includes('serve')) {
  fs.mkdirSync(dir, { recursive: true });
  const out = fs.createWriteStream(path.join(dir, `${name}.jsonl`), { flags: 'w' });
  let seq = 0;
  const record = (ev: string, fields: Record<string, unknown>): void => {
    out.write(`${JSON.stringify({ t: Date.now(), ev, ...fields })}\n`);
  };
  const wrap = (proto: object, method: string, label: string, describe: Describe = () => ({})): void => {
    const target = proto as Record<string, Method>;
    const original = target[method];
    if (typeof original !== 'function') return;
    target[method] = async function (this: unknown, ...args: unknown[]) {
      const id = ++seq;
      record(`${label}:start`, { id, ...describe(args) });
      try {
        const result = await original.apply(this, args);
        record(`${label}:end`, { id, ...describe(args, result) });
        return result;
      } catch (err) {
        record(`${label}:throw`, { id, err: String(err) });
        throw err;
      }
    };
  };
  const field = (x: unknown, key: string): unknown => (x as Record<string, unknown> | undefined)?.[key];

  const { Reconciler } = await import('../src/scheduler/reconciler.js');
  const register = Reconciler.prototype.register;
  Reconciler.prototype.register = function (step) {
    register.call(this, {
      name: step.name,
      run: async (now) => {
        const start = Date.now();
        try {
          await step.run(now);
        } finally {
          record('step', { step: step.name, at: now.getTime(), start, ms: Date.now() - start });
        }
      },
    });
  };
  const { RolloutRunner } = await import('../src/scheduler/rollout-runner.js');
  wrap(RolloutRunner.prototype, 'tick', 'runner.tick', (a) => ({ now: (a[0] as Date).getTime() }));
  wrap(RolloutRunner.prototype, 'report', 'runner.report');
  const { FederatedRolloutSync } = await import('../src/services/federated-rollout-sync.js');
  const sync = FederatedRolloutSync.prototype;
  wrap(sync, 'tick', 'sync.tick');
  wrap(sync, 'progress', 'sync.progress', (a) => ({
    peer: field(a[1], 'name'),
    completed: field(a[2], 'completed_batches'),
  }));
  wrap(sync, 'localProgress', 'sync.localProgress');
  wrap(sync, 'refresh', 'sync.refresh', (_a, r) => ({ raised: r ?? null }));
  wrap(sync, 'propagateBarrier', 'sync.propagate', (a) => ({ raised: a[1] }));
  wrap(sync, 'applyObservation', 'sync.apply', (a) => ({
    peer: field(a[1], 'peerName'),
    kind: field(a[2], 'kind'),
    reported: field(field(a[2], 'report'), 'completed_batches'),
  }));
  const { FederatedLegsService } = await import('../src/services/federated-legs-service.js');
  wrap(FederatedLegsService.prototype, 'reportProgress', 'legs.reportProgress');
  const { PeerCalls } = await import('../src/services/peer-calls.js');
  wrap(PeerCalls.prototype, 'request', 'calls.request', (a) => ({ op: a[1], to: field(a[0], 'name') }));
  wrap(PeerCalls.prototype, 'handleInbound', 'calls.inbound', (a) => ({ op: a[0] }));
}
