// Federated deployment rules as pure functions: overrides per peer, a share's state from its report,
// drift reasons and the overall state. No I/O.
import { describe, expect, it } from 'vitest';
import {
  deploymentRolloutOf,
  driftReasons,
  failbackReady,
  failoverReasons,
  overallStateOf,
  overridesSchema,
  shareStateOf,
  shareTarget,
  unknownOverrideKeys,
  type ShareState,
} from '../../src/domain/federated-deployment.js';

const deployment = {
  version: '1.2.0',
  groupName: 'edge',
  overrides: { 'eu-1': { version: '1.1.9' }, 'us-1': { group: 'canary' } },
};

describe('shareTarget', () => {
  it("uses the deployment's version and group unless an override names the peer", () => {
    expect(shareTarget(deployment, 'ap-1')).toEqual({ version: '1.2.0', groupName: 'edge' });
    expect(shareTarget(deployment, 'eu-1')).toEqual({ version: '1.1.9', groupName: 'edge' });
    expect(shareTarget(deployment, 'us-1')).toEqual({ version: '1.2.0', groupName: 'canary' });
  });

  it('names override keys that match no peer', () => {
    expect(unknownOverrideKeys(deployment.overrides, ['eu-1', 'ap-1'])).toEqual(['us-1']);
    expect(unknownOverrideKeys({}, [])).toEqual([]);
  });

  it('refuses unknown override fields', () => {
    expect(overridesSchema.safeParse({ a: { version: '1' } }).success).toBe(true);
    expect(overridesSchema.safeParse({ a: { replicas: 3 } }).success).toBe(false);
  });
});

describe('shareStateOf', () => {
  it('is in_sync when the share runs healthy everywhere it should', () => {
    expect(shareStateOf(3, { assigned: 3, running_healthy: 3, drifted: 0, upgrading: 0 })).toBe('in_sync');
    expect(shareStateOf(0, { assigned: 0, running_healthy: 0, drifted: 0, upgrading: 0 })).toBe('in_sync');
  });

  it('is progressing while assigned instances come up', () => {
    expect(shareStateOf(3, { assigned: 3, running_healthy: 1, drifted: 0, upgrading: 0 })).toBe('progressing');
  });

  it('is progressing, not drifted, while instances upgrade to the version there', () => {
    expect(shareStateOf(3, { assigned: 1, running_healthy: 1, drifted: 0, upgrading: 2 })).toBe('progressing');
    expect(shareStateOf(3, { assigned: 1, running_healthy: 1, drifted: 0, upgrading: 1 })).toBe('drifted');
  });

  it('is drifted when an instance lost the version or the peer is short of its share', () => {
    expect(shareStateOf(3, { assigned: 3, running_healthy: 3, drifted: 1, upgrading: 0 })).toBe('drifted');
    expect(shareStateOf(3, { assigned: 2, running_healthy: 2, drifted: 0, upgrading: 0 })).toBe('drifted');
  });
});

describe('driftReasons', () => {
  const share = { peerName: 'eu-1', desiredReplicas: 3 };
  it('says nothing when the share is whole', () => {
    expect(driftReasons(share, { assigned: 3, running_healthy: 0, drifted: 0, upgrading: 0 })).toEqual([]);
  });
  it('names drifted instances and a short share', () => {
    expect(driftReasons(share, { assigned: 2, running_healthy: 2, drifted: 1, upgrading: 0 })).toEqual([
      "1 instance(s) on eu-1 no longer run the deployment's version",
      'eu-1 has 2 of its 3 replica(s) assigned',
    ]);
  });
});

describe('overallStateOf', () => {
  const of = (...states: ShareState[]) => overallStateOf(states.map((state) => ({ state })));
  it('is in_sync only when every share is', () => {
    expect(of('in_sync', 'in_sync')).toBe('in_sync');
    expect(of()).toBe('in_sync');
  });
  it('is progressing while a share is pending or coming up', () => {
    expect(of('in_sync', 'pending')).toBe('progressing');
    expect(of('progressing', 'in_sync')).toBe('progressing');
  });
  it('is drifted when a share drifted', () => {
    expect(of('in_sync', 'drifted', 'progressing')).toBe('drifted');
  });
  it('is degraded when a share failed or is unreachable, whatever the others', () => {
    expect(of('drifted', 'failed')).toBe('degraded');
    expect(of('in_sync', 'unreachable')).toBe('degraded');
  });
  it('leaves out a share that failed over: the others carry its replicas', () => {
    expect(of('in_sync', 'failed_over')).toBe('in_sync');
    expect(of('progressing', 'failed_over')).toBe('progressing');
  });
});

describe('failover and failback', () => {
  const member = (id: string | null, available: boolean, capacity: number | null = null) => ({
    federationPeerId: id,
    peerName: id ?? 'host',
    available,
    capacity,
    reasons: available ? [] : [`federation peer ${id} is lost_contact, not active`],
  });
  const share = (id: string | null, planned: number, desired = planned) => ({
    federationPeerId: id,
    peerName: id ?? 'host',
    plannedReplicas: planned,
    desiredReplicas: desired,
  });

  it('asks for a failover when a member carrying replicas is unavailable or short of capacity', () => {
    expect(failoverReasons([share('a', 2), share('b', 2)], [member('a', true), member('b', true)])).toEqual([]);
    expect(failoverReasons([share('a', 2), share('b', 2)], [member('a', false), member('b', true)])).toEqual([
      'a cannot carry its 2 replica(s): federation peer a is lost_contact, not active',
    ]);
    expect(failoverReasons([share('a', 2)], [member('a', true, 1)])).toEqual([
      'a has 1 online instance(s) for its 2 replica(s)',
    ]);
    expect(failoverReasons([share('a', 2)], [])).toEqual(['a cannot carry its 2 replica(s): gone']);
  });

  it('never fails over a share that carries nothing', () => {
    expect(failoverReasons([share('a', 2, 0)], [member('a', false)])).toEqual([]);
  });

  it('fails back only when asked to, and when every planned member can carry its share again', () => {
    const moved = [share('a', 2, 0), share('b', 2, 4)];
    expect(failbackReady(true, moved, [member('a', true), member('b', true)])).toBe(true);
    expect(failbackReady(false, moved, [member('a', true), member('b', true)])).toBe(false);
    expect(failbackReady(true, moved, [member('a', false), member('b', true)])).toBe(false);
    expect(failbackReady(true, moved, [member('a', true, 1), member('b', true)])).toBe(false);
    expect(failbackReady(true, [share('a', 2), share('b', 2)], [member('a', true), member('b', true)])).toBe(false);
  });
});

describe('deploymentRolloutOf', () => {
  it('fills the fields left out with the defaults', () => {
    expect(deploymentRolloutOf(undefined)).toEqual({
      strategy: { type: 'batch', batch_pct: 25 },
      max_consecutive_failures: 2,
      health_timeout_sec: 300,
    });
    expect(deploymentRolloutOf({ max_consecutive_failures: 1 }).max_consecutive_failures).toBe(1);
  });
});
