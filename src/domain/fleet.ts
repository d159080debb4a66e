// Fleet domain: instances, groups, agent heartbeats and drift. Pure: no I/O.
import { unstorableTextReason } from './text.js';

export const INSTANCE_STATUSES = ['running', 'stale', 'terminated'] as const;
export type InstanceStatus = (typeof INSTANCE_STATUSES)[number];

export const AGENT_HEALTH = ['ok', 'degraded', 'failed'] as const;
export type AgentHealth = (typeof AGENT_HEALTH)[number];

/** Missed heartbeat intervals after which a running instance is stale. */
export const STALE_AFTER_MISSED = 3;

export interface Group {
  id: string;
  name: string;
  createdBy: string;
  createdAt: Date;
}

/** A group named by id or name (tools accept `group` or the seeds' `template_id`). */
export type GroupRef = { groupId: string } | { groupName: string };

export interface DesiredVersion {
  moduleId: string;
  moduleName: string;
  versionId: string;
  version: string;
  digest: string;
}

export interface Instance {
  id: string;
  name: string;
  groupId: string;
  groupName: string;
  region: string | null;
  labels: Record<string, string>;
  status: InstanceStatus;
  health: AgentHealth | 'unknown';
  agentStatus: string | null;
  runningModuleDigests: Record<string, string>;
  enrolledAt: Date;
  lastHeartbeatAt: Date | null;
  terminatedAt: Date | null;
}

export interface EnrollmentToken {
  id: string;
  groupId: string;
  groupName: string;
  region: string | null;
  labels: Record<string, string>;
  createdBy: string;
  createdAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
}

/** One heartbeat as an agent sends it. */
export interface Heartbeat {
  runningModuleDigests: Record<string, string>;
  health: AgentHealth;
  status: string;
}

export interface DriftEntry {
  moduleName: string;
  desiredVersion: string;
  desiredDigest: string;
  runningDigest: string | null;
}

/** The modules where what runs differs from what is desired (a missing module counts). */
export function driftOf(running: Record<string, string>, desired: readonly DesiredVersion[]): DriftEntry[] {
  const out: DriftEntry[] = [];
  for (const d of desired) {
    const actual = running[d.moduleName] ?? null;
    if (actual !== d.digest) {
      out.push({ moduleName: d.moduleName, desiredVersion: d.version, desiredDigest: d.digest, runningDigest: actual });
    }
  }
  return out;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; field: string; message: string };

const DIGEST = /^sha256:[0-9a-f]{64}$/;
const MODULE = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const MAX_MODULES = 256;

/**
 * Validates a heartbeat body by hand (the hot path: no schema library), naming the bad field. Every
 * value it passes is one the store accepts (names and digests by pattern, text without NUL or lone
 * surrogates), so a heartbeat can never fail the batched statement it joins.
 */
export function parseHeartbeat(body: unknown): ParseResult<Heartbeat> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, field: 'body', message: 'must be a JSON object' };
  }
  const b = body as Record<string, unknown>;
  for (const key of Object.keys(b)) {
    if (key !== 'running_module_digests' && key !== 'health' && key !== 'status') {
      return { ok: false, field: key, message: 'unknown field (accepted: running_module_digests, health, status)' };
    }
  }
  const digests = b.running_module_digests;
  if (typeof digests !== 'object' || digests === null || Array.isArray(digests)) {
    return { ok: false, field: 'running_module_digests', message: 'must be an object of module name → sha256 digest' };
  }
  const entries = Object.entries(digests as Record<string, unknown>);
  if (entries.length > MAX_MODULES) {
    return { ok: false, field: 'running_module_digests', message: `at most ${MAX_MODULES} modules` };
  }
  for (const [name, digest] of entries) {
    if (!MODULE.test(name)) return { ok: false, field: `running_module_digests.${name}`, message: 'not a module name' };
    if (typeof digest !== 'string' || !DIGEST.test(digest)) {
      return { ok: false, field: `running_module_digests.${name}`, message: 'must be sha256:<64 lowercase hex>' };
    }
  }
  if (b.health !== 'ok' && b.health !== 'degraded' && b.health !== 'failed') {
    return { ok: false, field: 'health', message: 'must be ok, degraded or failed' };
  }
  const status = b.status ?? 'running';
  if (typeof status !== 'string' || status.length === 0 || status.length > 32) {
    return { ok: false, field: 'status', message: 'must be a short string such as running' };
  }
  const unstorable = unstorableTextReason(status);
  if (unstorable !== null) return { ok: false, field: 'status', message: unstorable };
  return {
    ok: true,
    value: { runningModuleDigests: digests as Record<string, string>, health: b.health, status },
  };
}
