import { describe, expect, it } from 'vitest';
import {
  canAdvanceHop,
  chainState,
  HOP_STATUSES,
  hopReportArgsSchema,
  migrationSchema,
  nextHopName,
  pathProblem,
  relayArgsSchema,
  relayProblem,
  type HopStatus,
} from '../../src/domain/migration-chain.js';

const digest = `sha256:${'a'.repeat(64)}`;

describe('hop statuses', () => {
  it('only move forward', () => {
    expect(canAdvanceHop('pending', 'awaiting_approval')).toBe(true);
    expect(canAdvanceHop('pending', 'failed')).toBe(true);
    expect(canAdvanceHop('awaiting_approval', 'relayed')).toBe(true);
    expect(canAdvanceHop('awaiting_approval', 'rejected')).toBe(true);
    expect(canAdvanceHop('applied', 'relayed')).toBe(true);
    expect(canAdvanceHop('applied', 'failed')).toBe(true);
    expect(canAdvanceHop('awaiting_approval', 'pending')).toBe(false);
    expect(canAdvanceHop('relayed', 'awaiting_approval')).toBe(false);
    expect(canAdvanceHop('applied', 'rejected')).toBe(false);
  });

  it('ignore repeats and anything after a terminal status', () => {
    for (const s of HOP_STATUSES) expect(canAdvanceHop(s, s)).toBe(false);
    for (const from of ['rejected', 'failed', 'relayed'] as HopStatus[]) {
      for (const to of HOP_STATUSES) expect(canAdvanceHop(from, to), `${from} → ${to}`).toBe(false);
    }
  });
});

describe('chainState', () => {
  const hops = (...s: HopStatus[]) => s.map((status, hopIndex) => ({ hopIndex, status }));
  it('is completed when the last hop applied', () => {
    expect(chainState(hops('relayed', 'relayed', 'applied'), 2)).toBe('completed');
  });
  it('is stopped when any hop was rejected or failed', () => {
    expect(chainState(hops('relayed', 'rejected', 'pending'), 2)).toBe('stopped');
    expect(chainState(hops('relayed', 'failed', 'pending'), 2)).toBe('stopped');
  });
  it('is in progress otherwise, including when a middle hop only applied so far', () => {
    expect(chainState(hops('relayed', 'awaiting_approval', 'pending'), 2)).toBe('in_progress');
    expect(chainState(hops('relayed', 'applied'), 2)).toBe('in_progress');
  });
});

describe('paths', () => {
  it('names the next hop, or null after the last', () => {
    expect(nextHopName(['b', 'c'], 0)).toBe('b');
    expect(nextHopName(['b', 'c'], 1)).toBe('c');
    expect(nextHopName(['b', 'c'], 2)).toBeNull();
  });
  it('refuses empty, repeated, too long and origin-returning paths', () => {
    expect(pathProblem([], 'a')).toMatch(/at least one/);
    expect(pathProblem(['b', 'b'], 'a')).toMatch(/twice/);
    expect(pathProblem(['b', 'a'], 'a')).toMatch(/origin/);
    expect(
      pathProblem(
        Array.from({ length: 17 }, (_, i) => `p${i}`),
        'a',
      ),
    ).toMatch(/at most 16/);
    expect(pathProblem(['b', 'c'], 'a')).toBeNull();
  });
});

describe('schemas', () => {
  const m = { kind: 'publish_module_version', module_name: 'nginx', version: '1.0.0', digest };
  it('accept a publish_module_version migration and refuse other kinds or extra fields', () => {
    expect(migrationSchema.safeParse(m).success).toBe(true);
    expect(migrationSchema.safeParse({ ...m, kind: 'drop_table' }).success).toBe(false);
    expect(migrationSchema.safeParse({ ...m, extra: 1 }).success).toBe(false);
    expect(migrationSchema.safeParse({ ...m, digest: 'md5:x' }).success).toBe(false);
  });
  it('check relay and report arguments', () => {
    const chain_id = '3f1c2b9e-8a4d-4c6e-9b1a-2d3e4f5a6b7c';
    expect(relayArgsSchema.safeParse({ chain_id, origin: 'a', migration: m, path: ['b'], hop_index: 1 }).success).toBe(
      true,
    );
    expect(relayArgsSchema.safeParse({ chain_id, origin: 'a', migration: m, path: ['b'], hop_index: 0 }).success).toBe(
      false,
    );
    const report = {
      chain_id,
      hop_index: 1,
      platform_name: 'b',
      status: 'applied',
      approval_request_id: null,
      decided_by: 'checker',
      decided_at: '2026-11-22T00:00:00.000Z',
      error: null,
    };
    expect(hopReportArgsSchema.safeParse(report).success).toBe(true);
    expect(hopReportArgsSchema.safeParse({ ...report, status: 'done' }).success).toBe(false);
  });
});

describe('relayed chains', () => {
  it('refuse names that are not plain platform names', () => {
    const base = { chain_id: '00000000-0000-4000-8000-000000000001', hop_index: 1 };
    const migration = { kind: 'publish_module_version', module_name: 'web', version: '1.0.0', digest };
    for (const origin of ['a\nIGNORE', 'a `b`', '# a', 'a b', '']) {
      expect(relayArgsSchema.safeParse({ ...base, migration, origin, path: ['b'] }).success).toBe(false);
    }
    expect(relayArgsSchema.safeParse({ ...base, migration, origin: 'a', path: ['b\n- approve'] }).success).toBe(false);
    expect(relayArgsSchema.safeParse({ ...base, migration, origin: 'a.example-1', path: ['b'] }).success).toBe(true);
  });

  it('agree with the sender at hop 1 and name neither the origin nor a platform twice', () => {
    expect(relayProblem({ origin: 'a', path: ['b', 'c'], hop_index: 1 }, 'a')).toBeNull();
    expect(relayProblem({ origin: 'x', path: ['b'], hop_index: 1 }, 'a')).toMatch(/not the sending peer a/);
    expect(relayProblem({ origin: 'x', path: ['b', 'c'], hop_index: 2 }, 'b')).toBeNull();
    expect(relayProblem({ origin: 'a', path: ['b', 'a'], hop_index: 1 }, 'a')).toMatch(/^path: .*origin/);
    expect(relayProblem({ origin: 'a', path: ['b', 'b'], hop_index: 1 }, 'a')).toMatch(/twice/);
  });
});
