// Capabilities, grant scopes and boundary rules as pure functions: what each scope covers, the local
// role each capability needs, when a grant authorizes, and boundary evaluation by ascending priority
// with the first match winning. No I/O.
import { describe, expect, it } from 'vitest';
import {
  CAPABILITIES,
  CAPABILITY_ROLES,
  evaluateBoundary,
  grantAuthorizes,
  isCapability,
  normaliseScopes,
  scopesCover,
  scopesCovering,
  type BoundaryRule,
  type Capability,
  type FederationGrant,
} from '../../src/domain/capabilities.js';

const READS: Capability[] = ['versions.read', 'inventory.read', 'audit.read'];
const WRITES: Capability[] = ['rollouts.request', 'rollouts.control', 'deployments.assign', 'migrations.relay'];

type Rule = Pick<BoundaryRule, 'id' | 'action' | 'capability' | 'priority'>;
const rule = (id: string, action: Rule['action'], capability: Capability, priority: number): Rule => ({
  id,
  action,
  capability,
  priority,
});

describe('grant scopes', () => {
  it('read covers the three reads and nothing else', () => {
    for (const c of READS) expect(scopesCover(['read'], c), c).toBe(true);
    for (const c of [...WRITES, '*'] as Capability[]) expect(scopesCover(['read'], c), c).toBe(false);
  });

  it('write covers the reads and the four writes, but not *', () => {
    for (const c of [...READS, ...WRITES]) expect(scopesCover(['write'], c), c).toBe(true);
    expect(scopesCover(['write'], '*')).toBe(false);
  });

  it('admin covers every capability including *', () => {
    for (const c of CAPABILITIES) expect(scopesCover(['admin'], c), c).toBe(true);
  });

  it('no scopes cover nothing', () => {
    expect(scopesCover([], 'versions.read')).toBe(false);
  });

  it('lists the scopes covering a capability', () => {
    expect(scopesCovering('inventory.read')).toEqual(['read', 'write', 'admin']);
    expect(scopesCovering('rollouts.control')).toEqual(['write', 'admin']);
    expect(scopesCovering('*')).toEqual(['admin']);
  });

  it('normalises scopes to canonical order without duplicates', () => {
    expect(normaliseScopes(['admin', 'read', 'admin'])).toEqual(['read', 'admin']);
  });
});

describe('local role each capability needs', () => {
  it('reads need viewer, writes operator, * admin', () => {
    for (const c of READS) expect(CAPABILITY_ROLES[c], c).toBe('viewer');
    for (const c of WRITES) expect(CAPABILITY_ROLES[c], c).toBe('operator');
    expect(CAPABILITY_ROLES['*']).toBe('admin');
  });

  it('knows capabilities by name', () => {
    expect(isCapability('inventory.read')).toBe(true);
    expect(isCapability('inventory.write')).toBe(false);
  });
});

describe('grantAuthorizes', () => {
  const now = new Date('2026-11-22T00:00:00Z');
  const grant = (over: Partial<FederationGrant> = {}): FederationGrant => ({
    id: 'g1',
    federationPeerId: 'p1',
    peerName: 'parent',
    direction: 'issued',
    scopes: ['read'],
    status: 'active',
    expiresAt: new Date('2026-12-01T00:00:00Z'),
    issuedBy: 'admin',
    reason: null,
    createdAt: now,
    revokedAt: null,
    revokedBy: null,
    archivedAt: null,
    ...over,
  });

  it('authorizes a covered capability while active and unexpired', () => {
    expect(grantAuthorizes(grant(), 'versions.read', now)).toBe(true);
  });

  it('refuses an uncovered capability, an expired grant, and a revoked one', () => {
    expect(grantAuthorizes(grant(), 'rollouts.request', now)).toBe(false);
    expect(grantAuthorizes(grant({ expiresAt: now }), 'versions.read', now)).toBe(false);
    expect(grantAuthorizes(grant({ status: 'revoked' }), 'versions.read', now)).toBe(false);
  });
});

describe('evaluateBoundary', () => {
  it('accepts everything when there are no rules', () => {
    for (const c of CAPABILITIES) expect(evaluateBoundary([], c)).toEqual({ action: 'accept', rule: null });
  });

  it('accepts when no rule matches', () => {
    expect(evaluateBoundary([rule('r1', 'drop', 'rollouts.request', 1)], 'inventory.read')).toEqual({
      action: 'accept',
      rule: null,
    });
  });

  it('drop * at 100 plus accept inventory.read at 10 denies by default except inventory.read', () => {
    const rules = [rule('deny-all', 'drop', '*', 100), rule('allow-inv', 'accept', 'inventory.read', 10)];
    expect(evaluateBoundary(rules, 'inventory.read')).toEqual({ action: 'accept', rule: 'allow-inv' });
    for (const c of CAPABILITIES.filter((c) => c !== 'inventory.read')) {
      expect(evaluateBoundary(rules, c), c).toEqual({ action: 'drop', rule: 'deny-all' });
    }
  });

  it('evaluates by ascending priority whatever order the rules come in: the first match wins', () => {
    const rules = [
      rule('accept-late', 'accept', 'audit.read', 50),
      rule('drop-early', 'drop', 'audit.read', 5),
      rule('accept-all', 'accept', '*', 20),
    ];
    expect(evaluateBoundary(rules, 'audit.read')).toEqual({ action: 'drop', rule: 'drop-early' });
    expect(evaluateBoundary(rules, 'versions.read')).toEqual({ action: 'accept', rule: 'accept-all' });
  });

  it('a rule of * matches a call asking for *, and a named rule does not', () => {
    expect(evaluateBoundary([rule('r', 'drop', 'versions.read', 0)], '*')).toEqual({ action: 'accept', rule: null });
    expect(evaluateBoundary([rule('r', 'drop', '*', 0)], '*')).toEqual({ action: 'drop', rule: 'r' });
  });

  it('priority 0 is evaluated before 1', () => {
    const rules = [rule('one', 'accept', '*', 1), rule('zero', 'drop', '*', 0)];
    expect(evaluateBoundary(rules, 'inventory.read')).toEqual({ action: 'drop', rule: 'zero' });
  });
});
