// The address classifier behind the peer address policy: every form a URL or a DNS answer can give for a
// loopback, private, link-local, shared or unspecified address is recognised; public ones stay public.
import { describe, expect, it } from 'vitest';
import { classifyAddress, classifyUrlHost, privateAddressesAllowed } from '../../src/federation/peer-address.js';

describe('classifyUrlHost', () => {
  it.each([
    ['http://127.0.0.1:7410/', 'loopback'],
    ['http://127.255.255.254/', 'loopback'],
    ['http://2130706433/', 'loopback'], // decimal
    ['http://0x7f000001/', 'loopback'], // hex
    ['http://0x7f.0.0.1/', 'loopback'], // hex part
    ['http://017700000001/', 'loopback'], // octal
    ['http://0177.0.0.1/', 'loopback'], // octal part
    ['http://127.1/', 'loopback'], // short form
    ['http://localhost:8080/', 'loopback'],
    ['http://api.localhost/', 'loopback'],
    ['http://[::1]:7410/', 'loopback'],
    ['http://[0:0:0:0:0:0:0:1]/', 'loopback'],
    ['http://[::ffff:127.0.0.1]/', 'loopback'], // IPv4-mapped
    ['http://[::ffff:7f00:1]/', 'loopback'],
    ['http://[64:ff9b::127.0.0.1]/', 'loopback'], // NAT64
    ['http://[2002:7f00:1::]/', 'loopback'], // 6to4
    ['http://0.0.0.0/', 'unspecified'],
    ['http://0/', 'unspecified'],
    ['http://0.1.2.3/', 'unspecified'],
    ['http://[::]/', 'unspecified'],
    ['http://10.0.0.1/', 'private'],
    ['http://167772161/', 'private'], // 10.0.0.1 in decimal
    ['http://172.16.0.1/', 'private'],
    ['http://172.31.255.255/', 'private'],
    ['http://192.168.1.1/', 'private'],
    ['http://0xc0a80101/', 'private'], // 192.168.1.1 in hex
    ['http://[::ffff:10.1.2.3]/', 'private'],
    ['http://[::ffff:192.168.0.1]/', 'private'],
    ['http://169.254.169.254/', 'link_local'],
    ['http://[::ffff:169.254.169.254]/', 'link_local'],
    ['http://[fe80::1]/', 'link_local'],
    ['http://[febf::1]/', 'link_local'],
    ['http://100.64.0.1/', 'shared'],
    ['http://100.127.255.255/', 'shared'],
    ['http://[fc00::1]/', 'unique_local'],
    ['http://[fd12:3456::1]/', 'unique_local'],
    ['http://224.0.0.1/', 'reserved'],
    ['http://255.255.255.255/', 'reserved'],
    ['http://[ff02::1]/', 'reserved'],
  ])('%s is %s', (url, kind) => {
    expect(classifyUrlHost(url)).toBe(kind);
  });

  it.each([
    'http://8.8.8.8/',
    'http://172.32.0.1/',
    'http://172.15.255.255/',
    'http://100.128.0.1/',
    'http://100.63.255.255/',
    'http://169.255.0.1/',
    'http://192.169.0.1/',
    'http://11.0.0.1/',
    'http://[2001:4860:4860::8888]/',
    'http://[::ffff:8.8.8.8]/',
    'http://[2606:4700::1111]/',
  ])('%s is public', (url) => {
    expect(classifyUrlHost(url)).toBe('public');
  });

  it('leaves a DNS name to be resolved', () => {
    expect(classifyUrlHost('https://peer.example.com/')).toBeNull();
  });
});

describe('classifyAddress', () => {
  it('reads addresses as DNS answers give them, with or without brackets or a zone', () => {
    expect(classifyAddress('127.0.0.1')).toBe('loopback');
    expect(classifyAddress('::1')).toBe('loopback');
    expect(classifyAddress('[::1]')).toBe('loopback');
    expect(classifyAddress('fe80::1%eth0')).toBe('link_local');
    expect(classifyAddress('::ffff:169.254.169.254')).toBe('link_local');
    expect(classifyAddress('93.184.216.34')).toBe('public');
  });

  it('answers null for anything not an IP address', () => {
    for (const text of ['peer.example', '127.0.0.1.nip.io', '999.1.1.1', '1.2.3', '']) {
      expect(classifyAddress(text)).toBeNull();
    }
  });
});

describe('privateAddressesAllowed', () => {
  it('follows allow and deny whatever the platform URL', () => {
    expect(privateAddressesAllowed('allow', 'https://flotilla.example.com')).toBe(true);
    expect(privateAddressesAllowed('deny', 'http://127.0.0.1:7410')).toBe(false);
  });

  it('auto: allowed only when the platform’s own URL is not public', () => {
    expect(privateAddressesAllowed('auto', 'http://127.0.0.1:7410')).toBe(true);
    expect(privateAddressesAllowed('auto', 'http://10.1.2.3:7410')).toBe(true);
    expect(privateAddressesAllowed('auto', 'http://localhost:7410')).toBe(true);
    expect(privateAddressesAllowed('auto', 'https://flotilla.example.com')).toBe(false);
    expect(privateAddressesAllowed('auto', 'http://203.0.113.7:7410')).toBe(false);
    expect(privateAddressesAllowed('auto', undefined)).toBe(false);
  });
});
