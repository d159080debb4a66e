// Whether federation peers on loopback, private or link-local addresses may be called: from
// --peer-private-addresses or FLOTILLA_PEER_PRIVATE_ADDRESSES, default auto, a bad value named in one line.
import { describe, expect, it } from 'vitest';
import { resolveSettings } from '../../src/config.js';
import { SERVE_HELP } from '../../src/cli/serve.js';

describe('--peer-private-addresses / FLOTILLA_PEER_PRIVATE_ADDRESSES', () => {
  it('is auto by default', () => {
    expect(resolveSettings(['peerPrivateAddresses'], {}, {}).peerPrivateAddresses).toBe('auto');
  });

  it('takes the flag over the variable', () => {
    const env = { FLOTILLA_PEER_PRIVATE_ADDRESSES: 'deny' };
    const flags = { 'peer-private-addresses': 'allow' };
    expect(resolveSettings(['peerPrivateAddresses'], flags, env).peerPrivateAddresses).toBe('allow');
    expect(resolveSettings(['peerPrivateAddresses'], {}, env).peerPrivateAddresses).toBe('deny');
  });

  it('refuses another value, naming the setting', () => {
    expect(() => resolveSettings(['peerPrivateAddresses'], {}, { FLOTILLA_PEER_PRIVATE_ADDRESSES: 'yes' })).toThrow(
      /^invalid setting FLOTILLA_PEER_PRIVATE_ADDRESSES="yes"/,
    );
  });

  it('is in the serve help', () => {
    expect(SERVE_HELP).toContain('--peer-private-addresses M');
  });
});
