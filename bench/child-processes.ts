// Child processes a benchmark starts (the heartbeat load client, `flotilla serve` for the memory
// benchmark): each is stopped by the benchmark that started it; on Ctrl-C run.ts kills whatever is left.
import type { ChildProcess } from 'node:child_process';

const live = new Set<ChildProcess>();

/** Remembers `child` until it exits. */
export function track(child: ChildProcess): ChildProcess {
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** Kills every tracked child still running (on SIGINT). */
export function killAllChildren(): void {
  for (const child of live) child.kill('SIGKILL');
}
