// The peer client against fake peers on loopback: an oversized answer is dropped after the cap (the peer
// stops being read long before it finished), calls to one peer are bounded, and a redirect is never
// followed.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_CALLS_PER_PEER, MAX_PEER_RESPONSE_BYTES, PeerClient } from '../../src/federation/peer-client.js';
import { rejection } from '../helpers/federation.js';
import { waitFor } from '../helpers/fleet.js';

const ANSWER_BYTES = 64 * 1024 * 1024;

interface FakePeer {
  url: string;
  requests: number;
  close(): Promise<void>;
}

async function fakePeer(handle: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<FakePeer> {
  const state = { requests: 0 };
  const server = http.createServer((req, res) => {
    state.requests += 1;
    handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get requests() {
      return state.requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * Streams `total` bytes of a JSON string lazily (never held in memory), waiting for the socket to drain;
 * `sent` counts what the socket accepted, `done` settles when the answer ended or was cut off.
 */
function streamAnswer(res: http.ServerResponse, total: number, headers: http.OutgoingHttpHeaders = {}) {
  const chunk = Buffer.alloc(64 * 1024, 'a');
  const progress = { sent: 0 };
  const done = new Promise<void>((resolve) => {
    res.on('close', () => resolve());
    res.writeHead(200, { 'content-type': 'application/json', ...headers });
    res.write('"');
    const pump = (): void => {
      while (progress.sent < total && !res.destroyed) {
        progress.sent += chunk.length;
        if (!res.write(chunk)) {
          res.once('drain', pump);
          return;
        }
      }
      if (!res.destroyed) res.end('"');
    };
    pump();
  });
  return { progress, done };
}

describe('PeerClient', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const close of cleanup.splice(0)) await close();
  });
  const client = (): PeerClient => {
    const c = new PeerClient({ allowPrivate: () => true });
    cleanup.push(() => c.close());
    return c;
  };
  const peer = async (handle: Parameters<typeof fakePeer>[0]): Promise<FakePeer> => {
    const p = await fakePeer(handle);
    cleanup.push(() => p.close());
    return p;
  };

  it('drops an answer past the byte cap, naming the limit, and stops reading it', async () => {
    let answer: ReturnType<typeof streamAnswer> | undefined;
    const big = await peer((_req, res) => {
      answer = streamAnswer(res, ANSWER_BYTES);
    });
    const err = await rejection(client().post(big.url, '/federation/v1/calls/heartbeat', { to: 'x' }));
    expect(err).toMatchObject({ code: 'unavailable', details: { limit_bytes: MAX_PEER_RESPONSE_BYTES } });
    expect(err.message).toContain(`more than ${MAX_PEER_RESPONSE_BYTES} bytes`);
    await waitFor('the peer to see its answer cut off', () => answer !== undefined && answer.done.then(() => true));
    expect(answer!.progress.sent).toBeLessThan(ANSWER_BYTES / 2);
  });

  it('refuses an answer whose declared length is over the cap without reading its body', async () => {
    let answer: ReturnType<typeof streamAnswer> | undefined;
    const big = await peer((_req, res) => {
      answer = streamAnswer(res, ANSWER_BYTES, { 'content-length': String(ANSWER_BYTES + 2) });
    });
    const err = await rejection(client().post(big.url, '/federation/v1/calls/heartbeat', {}));
    expect(err).toMatchObject({ code: 'unavailable', details: { limit_bytes: MAX_PEER_RESPONSE_BYTES } });
    await waitFor('the peer to see its answer cut off', () => answer !== undefined && answer.done.then(() => true));
    expect(answer!.progress.sent).toBeLessThan(ANSWER_BYTES / 2);
  });

  it('(control) reads an answer just under the cap', async () => {
    const fits = await peer((_req, res) => {
      streamAnswer(res, MAX_PEER_RESPONSE_BYTES - 64 * 1024 - 2);
    });
    const answer = await client().post(fits.url, '/federation/v1/calls/heartbeat', {});
    expect(answer.status).toBe(200);
    expect(typeof answer.json).toBe('string');
  });

  it(`has at most ${MAX_CALLS_PER_PEER} calls in flight to one peer; the rest wait their turn`, async () => {
    const held: http.ServerResponse[] = [];
    let most = 0;
    const slow = await peer((req, res) => {
      req.resume();
      held.push(res);
      most = Math.max(most, held.length);
    });
    const other = await peer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
    const c = client();
    const total = 3 * MAX_CALLS_PER_PEER + 1;
    const calls = Array.from({ length: total }, (_, i) => c.post(slow.url, '/federation/v1/calls/test', { i }));
    let answered = 0;
    while (answered < total) {
      const batch = Math.min(MAX_CALLS_PER_PEER, total - answered);
      await waitFor(`${batch} held calls`, () => held.length >= batch);
      // Another peer is not held up by the busy one.
      expect((await c.post(other.url, '/federation/v1/calls/test', {})).status).toBe(200);
      for (const res of held.splice(0)) {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        answered += 1;
      }
    }
    expect((await Promise.all(calls)).map((a) => a.status)).toEqual(new Array(total).fill(200));
    expect(most).toBe(MAX_CALLS_PER_PEER);
  });

  it('never follows a redirect: the answer is the 3xx, and its target gets nothing', async () => {
    const target = await peer((_req, res) => res.writeHead(200).end('{}'));
    const redirecting = await peer((_req, res) =>
      res.writeHead(307, { location: `${target.url}/federation/v1/calls/heartbeat` }).end(),
    );
    const answer = await client().post(redirecting.url, '/federation/v1/calls/heartbeat', {});
    expect(answer.status).toBe(307);
    expect(target.requests).toBe(0);
  });
});
