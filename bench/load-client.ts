// The heartbeat load generator, run as a child process of the benchmark (see heartbeat-ingest.ts for
// why): undici `request` over one Agent of `connections` keep-alive connections, `inFlight` requests
// outstanding at all times, each a POST of the same JSON body with the next agent's bearer token in
// turn. The response body is read and parsed, as the simulator does. Latency is from issuing the
// request to the parsed body. Talks to its parent over IPC: a `run` message starts a run, `timed` is
// sent when the warm-up ends, `done` carries the counts and the latency samples.
import { Agent, request } from 'undici';

export interface LoadRun {
  cmd: 'run';
  url: string;
  /** Agent i's token is tokenPrefix + i, for i in 1..tokenCount. */
  tokenPrefix: string;
  tokenCount: number;
  body: string;
  connections: number;
  inFlight: number;
  warmupMs: number;
  durationMs: number;
}

export interface LoadResult {
  event: 'done';
  /** Responses received within the timed window, by status. */
  statuses: Record<string, number>;
  errors: number;
  firstError: string | null;
  /** Length of the timed window in ms. */
  windowMs: number;
  /** Latency (ms) of every request issued and answered within the timed window. */
  samples: Float64Array;
  /** CPU this process used in the timed window, in ms. */
  cpuMs: number;
  /** A response body seen in the timed window (to check what the server answered). */
  sampleBody: string | null;
}

async function run(r: LoadRun): Promise<LoadResult> {
  const dispatcher = new Agent({ connections: r.connections, pipelining: 1, keepAliveTimeout: 30_000 });
  const headers = Array.from({ length: r.tokenCount }, (_, i) => ({
    'content-type': 'application/json',
    authorization: `Bearer ${r.tokenPrefix}${i + 1}`,
  }));
  const url = new URL(r.url);
  const statuses: Record<string, number> = {};
  let errors = 0;
  let firstError: string | null = null;
  let sampleBody: string | null = null;
  let samples = new Float64Array(1 << 16);
  let n = 0;
  let next = 0;
  const started = performance.now();
  const timedFrom = started + r.warmupMs;
  const timedTo = timedFrom + r.durationMs;
  let cpuAtStart: NodeJS.CpuUsage | null = null;
  let timedSent = false;

  const worker = async (): Promise<void> => {
    for (;;) {
      const t0 = performance.now();
      if (t0 >= timedTo) return;
      if (!timedSent && t0 >= timedFrom) {
        timedSent = true;
        cpuAtStart = process.cpuUsage();
        process.send?.({ event: 'timed' });
      }
      const h = headers[next]!;
      next = (next + 1) % headers.length;
      let status: number;
      try {
        const res = await request(url, { method: 'POST', dispatcher, headers: h, body: r.body });
        status = res.statusCode;
        const json: unknown = await res.body.json();
        if (sampleBody === null && t0 >= timedFrom) sampleBody = JSON.stringify(json);
      } catch (err) {
        errors += 1;
        firstError ??= (err as Error).message;
        continue;
      }
      const t1 = performance.now();
      if (t0 >= timedFrom && t1 <= timedTo) {
        statuses[status] = (statuses[status] ?? 0) + 1;
        if (n === samples.length) {
          const bigger = new Float64Array(samples.length * 2);
          bigger.set(samples);
          samples = bigger;
        }
        samples[n++] = t1 - t0;
      }
    }
  };
  await Promise.all(Array.from({ length: r.inFlight }, worker));
  const cpu = process.cpuUsage(cpuAtStart ?? undefined);
  await dispatcher.close();
  return {
    event: 'done',
    statuses,
    errors,
    firstError,
    windowMs: r.durationMs,
    samples: samples.slice(0, n),
    cpuMs: (cpu.user + cpu.system) / 1000,
    sampleBody,
  };
}

process.on('message', (msg: LoadRun | { cmd: 'exit' }) => {
  if (msg.cmd === 'exit') {
    process.disconnect();
    return;
  }
  run(msg).then(
    (result) => process.send?.(result),
    (err: unknown) => process.send?.({ event: 'failed', message: (err as Error).stack ?? String(err) }),
  );
});
// The benchmark went away (crashed or killed): nothing left to report to.
process.on('disconnect', () => process.exit(0));
process.send?.({ event: 'ready' });
