// An HTTP hop in front of a platform's listener for federation tests: the platform gives peers the
// hop's URL (its --public-url), and the test decides per signed call what happens to it: passed on,
// refused (the connection dropped, as an unreachable peer), or passed on with the answer withheld (the
// platform applied the call, the caller never hears back: a caller killed mid-call sees exactly that).
// Requests are forwarded byte for byte with their Host header, so signatures stay valid.
import http from 'node:http';
import type net from 'node:net';

/** One request through the hop: its path, the peer operation it calls (null if not a call), its arguments. */
export interface ProxiedCall {
  path: string;
  operation: string | null;
  args: Record<string, unknown>;
}

/** A call whose answer the platform gave and the hop kept. */
export interface WithheldCall extends ProxiedCall {
  status: number;
  body: string;
}

type Rule = (call: ProxiedCall) => boolean;

const CALL_PATH = /^\/federation\/v1\/calls\/([^/?]+)/;

export class PeerProxy {
  private targetPort = 0;
  private refuseRule: Rule | null = null;
  private withholdRule: Rule | null = null;
  private readonly sockets = new Set<net.Socket>();
  /** Calls answered by the platform and kept from their caller, oldest first. */
  readonly withheld: WithheldCall[] = [];

  private constructor(private readonly server: http.Server) {}

  static async open(): Promise<PeerProxy> {
    const server = http.createServer();
    const proxy = new PeerProxy(server);
    server.on('connection', (socket) => {
      proxy.sockets.add(socket);
      socket.on('close', () => proxy.sockets.delete(socket));
    });
    server.on('request', (req, res) => void proxy.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }

  /** Forwards to the platform listening on `port`. */
  to(port: number): void {
    this.targetPort = port;
  }

  /** Drops the connection of every request `rule` matches (null: none); open connections are cut now. */
  refuse(rule: Rule | null): void {
    this.refuseRule = rule;
    if (rule !== null) for (const s of this.sockets) s.destroy();
  }

  /** Passes on requests `rule` matches but keeps their answers (null: none). */
  withhold(rule: Rule | null): void {
    this.withholdRule = rule;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const call = describe(req.url ?? '/', body);
    if (this.targetPort === 0 || this.refuseRule?.(call) === true) {
      req.socket.destroy();
      return;
    }
    const withhold = this.withholdRule?.(call) === true;
    const upstream = http.request({
      host: '127.0.0.1',
      port: this.targetPort,
      method: req.method,
      path: req.url,
      headers: req.headers,
    });
    upstream.on('error', () => req.socket.destroy());
    upstream.on('response', (answer) => {
      const parts: Buffer[] = [];
      answer.on('data', (c: Buffer) => parts.push(c));
      answer.on('end', () => {
        const text = Buffer.concat(parts);
        if (withhold) {
          // The caller waits on; its connection is cut when it gives up or the hop closes.
          this.withheld.push({ ...call, status: answer.statusCode ?? 0, body: text.toString('utf8') });
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        res.end(text);
      });
    });
    upstream.end(body);
  }
}

function describe(path: string, body: Buffer): ProxiedCall {
  const operation = CALL_PATH.exec(path)?.[1] ?? null;
  let args: Record<string, unknown> = {};
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { args?: unknown };
    if (typeof parsed.args === 'object' && parsed.args !== null) args = parsed.args as Record<string, unknown>;
  } catch {
    // Not JSON (or no body): no arguments to match on.
  }
  return { path, operation, args };
}
