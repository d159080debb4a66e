// A TCP proxy in front of a platform's listener that counts the connections and bytes it receives: a
// platform given its URL as a peer's address shows exactly what it put on the wire to that peer.
import net from 'node:net';

export interface CountingProxy {
  url: string;
  readonly connections: number;
  readonly bytes: number;
  close(): Promise<void>;
}

/** Opens a proxy on 127.0.0.1 forwarding to `target`. */
export async function countingProxy(target: URL): Promise<CountingProxy> {
  const sockets = new Set<net.Socket>();
  const stats = { connections: 0, bytes: 0 };
  const server = net.createServer((socket) => {
    stats.connections += 1;
    sockets.add(socket);
    const upstream = net.connect(Number(target.port), target.hostname);
    sockets.add(upstream);
    socket.on('data', (chunk: Buffer) => {
      stats.bytes += chunk.length;
    });
    socket.pipe(upstream).pipe(socket);
    const end = (): void => {
      socket.destroy();
      upstream.destroy();
    };
    socket.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get connections() {
      return stats.connections;
    },
    get bytes() {
      return stats.bytes;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
