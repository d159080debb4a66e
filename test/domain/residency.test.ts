// Data residency decisions as pure functions: which kinds of a transfer would leave a policy's region,
// how regions nest, and the policy and declared-policy shapes. No I/O.
import { describe, expect, it } from 'vitest';
import {
  canonicalKinds,
  parseDeclaredResidency,
  regionWithin,
  residencyDecision,
  residencyPolicySchema,
  type ResidencyPolicy,
} from '../../src/domain/residency.js';

const eu: ResidencyPolicy = {
  resource_kinds: ['secrets', 'credentials'],
  constraint: 'must_not_leave_region',
  region: 'eu-west-1',
};

describe('residencyDecision', () => {
  it('allows anything when the peer has no policy', () => {
    expect(residencyDecision(null, null, ['secrets', 'inventory'])).toEqual({ allowed: true });
  });

  it('allows kinds the policy does not pin, wherever the peer is', () => {
    expect(residencyDecision(eu, 'us-east-1', ['inventory', 'module_config'])).toEqual({ allowed: true });
  });

  it('allows pinned kinds to a peer inside the region', () => {
    expect(residencyDecision(eu, 'eu-west-1', ['secrets', 'credentials'])).toEqual({ allowed: true });
  });

  it('refuses pinned kinds to a peer outside the region, naming only the pinned ones', () => {
    expect(residencyDecision(eu, 'us-east-1', ['inventory', 'credentials', 'secrets'])).toEqual({
      allowed: false,
      leaving: ['secrets', 'credentials'],
      policyRegion: 'eu-west-1',
      peerRegion: 'us-east-1',
    });
  });

  it('counts a peer whose region is unknown as outside', () => {
    expect(residencyDecision(eu, null, ['secrets'])).toEqual({
      allowed: false,
      leaving: ['secrets'],
      policyRegion: 'eu-west-1',
      peerRegion: null,
    });
  });

  it('allows an empty transfer', () => {
    expect(residencyDecision(eu, 'us-east-1', [])).toEqual({ allowed: true });
  });
});

describe('regionWithin', () => {
  it('holds the same region and its dash-separated sub-regions', () => {
    expect(regionWithin('eu-west-1', 'eu-west-1')).toBe(true);
    expect(regionWithin('eu-west-1', 'eu-west')).toBe(true);
    expect(regionWithin('eu-central-1', 'eu')).toBe(true);
  });

  it('does not hold a region that merely starts with the same letters, nor a parent region', () => {
    expect(regionWithin('europe-1', 'eu')).toBe(false);
    expect(regionWithin('eu-west-10', 'eu-west-1')).toBe(false);
    expect(regionWithin('eu', 'eu-west-1')).toBe(false);
    expect(regionWithin(null, 'eu')).toBe(false);
  });
});

describe('the policy shape', () => {
  it('accepts the tutorial policy verbatim', () => {
    expect(residencyPolicySchema.parse(eu)).toEqual(eu);
  });

  it('refuses an empty, repeated or unknown kind, another constraint and an unknown field', () => {
    const bad = [
      { ...eu, resource_kinds: [] },
      { ...eu, resource_kinds: ['secrets', 'secrets'] },
      { ...eu, resource_kinds: ['passwords'] },
      { ...eu, constraint: 'may_leave_region' },
      { ...eu, region: 'EU West' },
      { ...eu, scope: 'all' },
    ];
    for (const policy of bad)
      expect(residencyPolicySchema.safeParse(policy).success, JSON.stringify(policy)).toBe(false);
  });

  it('orders kinds canonically, each once', () => {
    expect(canonicalKinds(['audit', 'secrets', 'audit', 'module_config'])).toEqual([
      'module_config',
      'secrets',
      'audit',
    ]);
  });
});

describe('parseDeclaredResidency', () => {
  it('reads the first policy of an accept answer, keeping kinds this side does not know', () => {
    const declared = { resource_kinds: ['secrets', 'telemetry'], constraint: 'must_not_leave_region', region: 'eu' };
    expect(parseDeclaredResidency([declared])).toEqual(declared);
  });

  it('answers null for none or for something unreadable', () => {
    expect(parseDeclaredResidency([])).toBeNull();
    expect(parseDeclaredResidency(undefined)).toBeNull();
    expect(parseDeclaredResidency([{ region: 7 }])).toBeNull();
  });
});
