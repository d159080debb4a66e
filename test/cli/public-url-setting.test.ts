// The public URL setting federation peers are given: from --public-url or FLOTILLA_PUBLIC_URL, trailing
// slashes dropped, only http(s), and a bad value named in one line.
import { describe, expect, it } from 'vitest';
import { resolveSettings } from '../../src/config.js';

describe('--public-url / FLOTILLA_PUBLIC_URL', () => {
  it('is unset by default, so the HTTP listener URL is used', () => {
    expect(resolveSettings(['publicUrl'], {}, {}).publicUrl).toBeUndefined();
  });

  it('takes the flag over the variable and drops a trailing slash', () => {
    const env = { FLOTILLA_PUBLIC_URL: 'https://env.example.org' };
    expect(resolveSettings(['publicUrl'], { 'public-url': 'https://parent.example.org/' }, env).publicUrl).toBe(
      'https://parent.example.org',
    );
    expect(resolveSettings(['publicUrl'], {}, env).publicUrl).toBe('https://env.example.org');
  });

  it('refuses a URL that is not http(s), naming the setting', () => {
    expect(() => resolveSettings(['publicUrl'], {}, { FLOTILLA_PUBLIC_URL: 'ftp://parent.example.org' })).toThrow(
      /^invalid setting FLOTILLA_PUBLIC_URL="ftp:\/\/parent.example.org"/,
    );
  });
});
