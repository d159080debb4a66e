// This platform's cost per instance, told to peers in heartbeats for cost_optimized placement: from
// --cost-per-instance or FLOTILLA_COST_PER_INSTANCE, default 1, a bad value named in one line.
import { describe, expect, it } from 'vitest';
import { resolveSettings } from '../../src/config.js';
import { SERVE_HELP } from '../../src/cli/serve.js';

describe('--cost-per-instance / FLOTILLA_COST_PER_INSTANCE', () => {
  it('is 1 by default', () => {
    expect(resolveSettings(['costPerInstance'], {}, {}).costPerInstance).toBe(1);
  });

  it('takes the flag over the variable, fractions allowed', () => {
    const env = { FLOTILLA_COST_PER_INSTANCE: '2.5' };
    expect(resolveSettings(['costPerInstance'], { 'cost-per-instance': '0.25' }, env).costPerInstance).toBe(0.25);
    expect(resolveSettings(['costPerInstance'], {}, env).costPerInstance).toBe(2.5);
  });

  it('refuses a negative or non-numeric cost, naming the setting', () => {
    expect(() => resolveSettings(['costPerInstance'], {}, { FLOTILLA_COST_PER_INSTANCE: '-1' })).toThrow(
      /^invalid setting FLOTILLA_COST_PER_INSTANCE="-1"/,
    );
    expect(() => resolveSettings(['costPerInstance'], { 'cost-per-instance': 'cheap' }, {})).toThrow(
      /^invalid setting --cost-per-instance="cheap"/,
    );
  });

  it('is in the serve help', () => {
    expect(SERVE_HELP).toContain('--cost-per-instance N');
  });
});
