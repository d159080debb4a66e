// Timing and printing helpers shared by the benchmarks. Latencies are wall-clock milliseconds from
// performance.now() around one awaited call, measured one call at a time after a warm-up.

export interface Timing {
  /** Timed calls (warm-up calls excluded). */
  n: number;
  p50: number;
  p99: number;
  mean: number;
  max: number;
  /** Sequential calls per second: 1000 / mean. */
  perSec: number;
}

/** One line of the final summary table. */
export interface ResultRow {
  bench: string;
  case: string;
  /** Latencies, when the row is a timing (memory rows have none). */
  timing?: Timing;
  /** Calls per second with several calls in flight at once, when measured. */
  parallelPerSec?: number;
  /** How many calls were in flight for parallelPerSec (default: the MCP benchmark's 8). */
  inFlight?: number;
  /** A figure that is not a timing, e.g. "RSS 142 MB". */
  figure?: string;
  /** e.g. "p99 < 10 ms"; empty when the row is for contrast only. */
  goal?: string;
  ok?: boolean;
}

/** Nearest-rank percentile of an ascending array: with 300 samples, p99 is the 3rd slowest call. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function summarize(samples: readonly number[]): Timing {
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = sorted.reduce((sum, x) => sum + x, 0) / sorted.length;
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    mean,
    max: sorted[sorted.length - 1] ?? Number.NaN,
    perSec: 1000 / mean,
  };
}

/** Runs `fn` `warmup` times untimed, then `n` times timed, one at a time. */
export async function timeCalls(n: number, fn: () => Promise<unknown>, warmup = Math.min(30, n)): Promise<Timing> {
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    await fn();
    samples.push(performance.now() - start);
  }
  return summarize(samples);
}

export function ms(x: number): string {
  if (!Number.isFinite(x)) return '-';
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

export function rate(x: number): string {
  return Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '-';
}

/** A plain-text table: columns padded, numbers right-aligned. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => /^[\d.,×x-]*$/.test(r[i] ?? '')));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** The columns every timing table shows; calls/s is sequential (one call at a time). */
export const TIMING_HEADER = ['n', 'p50 ms', 'p99 ms', 'mean ms', 'max ms', 'calls/s'];

export function timingCells(t: Timing): string[] {
  return [String(t.n), ms(t.p50), ms(t.p99), ms(t.mean), ms(t.max), rate(t.perSec)];
}

export function log(line = ''): void {
  console.log(line);
}

/** Seconds since `start` (a performance.now() value), for progress lines. */
export function since(start: number): string {
  return `${((performance.now() - start) / 1000).toFixed(1)} s`;
}
