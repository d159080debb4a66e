// The agent simulator: N agents as real HTTP clients (undici) that enroll, heartbeat what they run,
// apply desired versions after a delay, fail health for chosen versions, and ride out platform
// outages with capped exponential backoff. Demos, tests and benchmarks use it as a fleet.
import { setMaxListeners } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { Agent, request } from 'undici';
import type { Logger } from 'pino';

export interface SimulatorOptions {
  url: string;
  enrollToken: string;
  count: number;
  /** Modules each agent runs at start: module name → version string. */
  modules: Record<string, string>;
  /** Versions whose health check fails, as "module=version". */
  failVersions: ReadonlySet<string>;
  applyDelayMs: number;
  /** Heartbeat interval; default: what the platform says at enrollment. */
  intervalMs?: number;
  namePrefix: string;
  region?: string;
  logger: Logger;
  /** Connections to the platform shared by all agents. */
  connections?: number;
}

export interface SimulatorStats {
  agents: number;
  enrolled: number;
  healthy: number;
  failed: number;
  heartbeatsOk: number;
  heartbeatErrors: number;
  applied: number;
  lastError: string | null;
}

interface DesiredWire {
  module_name: string;
  version: string;
  digest: string;
}

const MIN_BACKOFF_MS = 200;
const MAX_BACKOFF_MS = 10_000;

class RetryableError extends Error {}

export class AgentSimulator {
  private readonly http: Agent;
  private readonly digestCache = new Map<string, Promise<string>>();
  private readonly agents: SimAgent[] = [];
  private readonly abort = new AbortController();
  readonly stats: SimulatorStats;

  constructor(readonly options: SimulatorOptions) {
    this.http = new Agent({ connections: options.connections ?? 64, keepAliveTimeout: 30_000 });
    setMaxListeners(0, this.abort.signal); // every sleeping agent listens for the stop
    this.stats = {
      agents: options.count,
      enrolled: 0,
      healthy: 0,
      failed: 0,
      heartbeatsOk: 0,
      heartbeatErrors: 0,
      applied: 0,
      lastError: null,
    };
  }

  get isStopped(): boolean {
    return this.abort.signal.aborted;
  }

  /** Starts every agent; each enrolls (retrying until the platform answers) and then heartbeats. */
  start(): void {
    for (let i = 0; i < this.options.count; i++) {
      const agent = new SimAgent(this, `${this.options.namePrefix}-${i + 1}`);
      this.agents.push(agent);
      agent.run().catch((err: unknown) => this.options.logger.error({ err, agent: agent.name }, 'agent stopped'));
    }
  }

  /** Resolves once every agent has enrolled, or rejects at the deadline. */
  async waitEnrolled(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.stats.enrolled < this.options.count) {
      if (Date.now() > deadline) throw new Error(`only ${this.stats.enrolled}/${this.options.count} agents enrolled`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.allSettled(this.agents.map((a) => a.stopped));
    await this.http.close();
  }

  /** JSON over HTTP; 5xx and network errors are retryable, other non-2xx throw with the status. */
  async call(
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    token?: string,
  ): Promise<{ status: number; json: unknown }> {
    let res;
    try {
      res = await request(new URL(path, this.options.url), {
        method,
        dispatcher: this.http,
        headers: {
          'content-type': 'application/json',
          ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        headersTimeout: 10_000,
        bodyTimeout: 10_000,
      });
    } catch (err) {
      throw new RetryableError(`platform unreachable: ${(err as Error).message}`);
    }
    const json: unknown = await res.body.json().catch(() => null);
    if (res.statusCode >= 500) throw new RetryableError(`platform answered ${res.statusCode}`);
    return { status: res.statusCode, json };
  }

  /** The digest the platform has published for module=version (looked up once, shared by all agents). */
  digestOf(moduleName: string, version: string, agentToken: string): Promise<string> {
    const key = `${moduleName}=${version}`;
    let cached = this.digestCache.get(key);
    if (cached === undefined) {
      cached = this.call(
        'GET',
        `/agents/v1/versions/${encodeURIComponent(moduleName)}/${encodeURIComponent(version)}`,
        undefined,
        agentToken,
      ).then(({ status, json }) => {
        if (status !== 200) throw new Error(`platform has no ${key} (HTTP ${status}): publish it first`);
        return (json as { digest: string }).digest;
      });
      cached.catch(() => this.digestCache.delete(key));
      this.digestCache.set(key, cached);
    }
    return cached;
  }

  /** Waits `ms`, or less when the simulator stops. */
  sleep(ms: number): Promise<void> {
    return delay(ms, undefined, { signal: this.abort.signal }).catch(() => undefined);
  }
}

class SimAgent {
  private token: string | null = null;
  private intervalMs = 15_000;
  private running: Record<string, string> = {};
  private runningVersions: Record<string, string> = {};
  private health: 'ok' | 'failed' = 'ok';
  private applying = new Set<string>();
  private backoffMs = MIN_BACKOFF_MS;
  private countedHealthy: 'ok' | 'failed' | null = null;
  private modulesResolved = false;
  stopped: Promise<void> = Promise.resolve();

  constructor(
    private readonly sim: AgentSimulator,
    readonly name: string,
  ) {}

  run(): Promise<void> {
    this.stopped = this.loop();
    return this.stopped;
  }

  private async loop(): Promise<void> {
    while (!this.sim.isStopped) {
      try {
        if (this.token === null) await this.enroll();
        if (!this.modulesResolved) await this.resolveModules();
        const sendAgain = await this.heartbeat();
        this.backoffMs = MIN_BACKOFF_MS;
        if (!sendAgain) await this.sim.sleep(this.intervalMs);
      } catch (err) {
        this.sim.stats.heartbeatErrors += 1;
        this.sim.stats.lastError = (err as Error).message;
        if (!(err instanceof RetryableError))
          this.sim.options.logger.warn({ agent: this.name, err: { message: (err as Error).message } }, 'agent error');
        await this.sim.sleep(this.backoffMs * (0.5 + Math.random()));
        this.backoffMs = Math.min(MAX_BACKOFF_MS, this.backoffMs * 2);
      }
    }
  }

  private async enroll(): Promise<void> {
    const { options } = this.sim;
    const { status, json } = await this.sim.call('POST', '/agents/v1/enroll', {
      enrollment_token: options.enrollToken,
      name: this.name,
      ...(options.region === undefined ? {} : { region: options.region }),
    });
    if (status !== 200 && status !== 201) {
      throw new Error(`enrollment refused (HTTP ${status}): ${JSON.stringify(json)}`);
    }
    const body = json as { agent_token: string; heartbeat_interval_ms: number };
    this.token = body.agent_token;
    this.intervalMs = options.intervalMs ?? body.heartbeat_interval_ms;
  }

  /**
   * Looks up the digests of the versions it starts on, once; until every lookup succeeds (platform
   * unreachable, version not yet published) it is retried with backoff and the agent does not count as enrolled.
   */
  private async resolveModules(): Promise<void> {
    const { options } = this.sim;
    for (const [moduleName, version] of Object.entries(options.modules)) {
      this.running[moduleName] = await this.sim.digestOf(moduleName, version, this.token!);
      this.runningVersions[moduleName] = version;
      if (options.failVersions.has(`${moduleName}=${version}`)) this.health = 'failed';
    }
    this.modulesResolved = true;
    this.sim.stats.enrolled += 1;
    this.updateHealthCount();
  }

  /** Sends one heartbeat and applies what it is told; returns true when something changed to report at once. */
  private async heartbeat(): Promise<boolean> {
    const { status, json } = await this.sim.call(
      'POST',
      '/agents/v1/heartbeat',
      { running_module_digests: this.running, health: this.health, status: 'running' },
      this.token!,
    );
    if (status === 401) {
      this.token = null; // revoked or re-enrolled elsewhere: enroll again
      throw new RetryableError('agent token refused; enrolling again');
    }
    if (status !== 200) throw new Error(`heartbeat refused (HTTP ${status}): ${JSON.stringify(json)}`);
    this.sim.stats.heartbeatsOk += 1;
    const desired = (json as { desired_module_versions: DesiredWire[] }).desired_module_versions;
    const changes = desired.filter((d) => this.running[d.module_name] !== d.digest && !this.applying.has(d.digest));
    if (changes.length === 0) return false;
    for (const d of changes) this.applying.add(d.digest);
    await this.sim.sleep(this.sim.options.applyDelayMs);
    for (const d of changes) {
      this.running[d.module_name] = d.digest;
      this.runningVersions[d.module_name] = d.version;
      this.applying.delete(d.digest);
      this.sim.stats.applied += 1;
    }
    const failing = Object.entries(this.runningVersions).some(([m, v]) =>
      this.sim.options.failVersions.has(`${m}=${v}`),
    );
    this.health = failing ? 'failed' : 'ok';
    this.updateHealthCount();
    return true;
  }

  private updateHealthCount(): void {
    const stats = this.sim.stats;
    if (this.countedHealthy === 'ok') stats.healthy -= 1;
    if (this.countedHealthy === 'failed') stats.failed -= 1;
    if (this.health === 'ok') stats.healthy += 1;
    else stats.failed += 1;
    this.countedHealthy = this.health;
  }
}

/** Parses "module=version" pairs as given on the command line. */
export function parseModulePairs(pairs: readonly string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const m = /^([a-z0-9][a-z0-9._-]{0,62})=([0-9A-Za-z][0-9A-Za-z.+_-]{0,63})$/.exec(pair);
    if (m === null) throw new Error(`${flag} ${pair}: expected module=version, e.g. nginx=1.24.0`);
    out[m[1]!] = m[2]!;
  }
  return out;
}
