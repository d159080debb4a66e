// What the machine and individual processes spent, from /proc (Linux): machine-wide busy CPU, a
// process's CPU and memory, and the Postgres backends serving one database. Where /proc is missing,
// the readers return null and the figures are printed as '-'.
import fs from 'node:fs';

/** Jiffies per second (`getconf CLK_TCK`; 100 on Linux x86-64). */
const HZ = 100;

export interface MachineCpu {
  /** Busy CPU ms, all cores (user + nice + system + irq + softirq + steal). */
  busyMs: number;
  totalMs: number;
}

export function machineCpu(): MachineCpu | null {
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const [, ...fields] = line.trim().split(/\s+/);
    const v = fields.map(Number);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    return { busyMs: ((total - idle) * 1000) / HZ, totalMs: (total * 1000) / HZ };
  } catch {
    return null;
  }
}

/** CPU ms (user + system) a process has used so far, or null when it is gone. */
export function processCpuMs(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain spaces.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(rest[11]) + Number(rest[12])) * 1000) / HZ;
  } catch {
    return null;
  }
}

/** VmRSS and VmHWM (peak RSS) of a process, in MB, from /proc/<pid>/status. */
export function processMemory(pid: number): { rssMb: number; hwmMb: number } | null {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
  } catch {
    return null;
  }
}

/** Pids of the Postgres backends connected to database `name` on this machine (their title names it). */
export function postgresBackends(name: string): number[] {
  const pids: number[] = [];
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return pids;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.startsWith('postgres: ') && cmdline.includes(` ${name} `)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Total CPU ms used so far by these processes (those gone count 0). */
export function cpuOfAll(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => sum + (processCpuMs(pid) ?? 0), 0);
}
