import { describe, expect, it } from 'vitest';
import { checkHostAndOrigin } from '../../src/http/host-check.js';

const loopback = { host: '127.0.0.1', port: 7410, allowedOrigins: [] as string[] };
const proxied = { host: '127.0.0.1', port: 7410, allowedOrigins: ['https://flotilla.example.com'] };

describe('Host and Origin checks', () => {
  it('accepts any loopback name on any port for a loopback listener', () => {
    expect(checkHostAndOrigin({ host: 'localhost:9999', origin: 'http://[::1]:3000' }, loopback)).toBeNull();
  });

  it('refuses a foreign Host and a foreign Origin', () => {
    expect(checkHostAndOrigin({ host: 'evil.example.com' }, loopback)).toMatch(/Host/);
    expect(checkHostAndOrigin({ host: '127.0.0.1', origin: 'http://evil.example.com' }, loopback)).toMatch(/Origin/);
  });

  it('matches an allowed origin whatever its case or trailing slash', () => {
    const listener = { ...proxied, allowedOrigins: ['HTTPS://Flotilla.Example.com/'] };
    expect(checkHostAndOrigin({ origin: 'https://flotilla.example.com' }, listener)).toBeNull();
  });

  it('admits an allowed origin as Host on its own port only', () => {
    expect(checkHostAndOrigin({ host: 'flotilla.example.com' }, proxied)).toBeNull();
    expect(checkHostAndOrigin({ host: 'flotilla.example.com:443' }, proxied)).toBeNull();
    expect(checkHostAndOrigin({ host: 'flotilla.example.com:8080' }, proxied)).toMatch(/Host/);
  });

  it('refuses an allowed host reached over another scheme as Origin', () => {
    expect(checkHostAndOrigin({ origin: 'http://flotilla.example.com' }, proxied)).toMatch(/Origin/);
  });
});
