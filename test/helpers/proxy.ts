// A TCP proxy on a loopback port in front of a server, for network faults: `freeze()` stops forwarding in both
// directions without closing anything (as a network that silently drops traffic does: the peers see no error,
// only silence), `thaw()` forwards again. Connections made while frozen are accepted and held, silent, too.
// `freezeConnections()` freezes the connections open now for good, and lets new ones through (a NAT or firewall that
// forgot the connections it had: neither peer hears of the other again, not even that it closed); after `freeze()`,
// the network comes back without them. `thaw()` brings back those still open.
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export interface Proxy {
  readonly host: string;
  readonly port: number;
  freeze(): void;
  freezeConnections(): void;
  thaw(): void;
  close(): Promise<void>;
}

export async function startProxy(upstream: { host: string; port: number }): Promise<Proxy> {
  let frozen = false;
  // The sockets of connections frozen one by one.
  const stuck = new Set<Socket>();
  const pairs = new Set<[Socket, Socket]>();
  const sockets = new Set<Socket>();

  // Bytes are written only while thawed: a frozen pair holds what it read and stops reading, so TCP pushes back.
  const forward = (from: Socket, to: Socket) => {
    const held: Buffer[] = [];
    from.on('data', (chunk: Buffer) => {
      if (frozen || stuck.has(from)) {
        held.push(chunk);
        from.pause();
      } else {
        to.write(chunk);
      }
    });
    from.on('resume', () => {
      for (const chunk of held.splice(0)) to.write(chunk);
    });
  };

  const server: Server = createServer((client) => {
    // Only the address: net would take other keys of the object (a `destroy`, say) as stream options.
    const remote = createConnection({ host: upstream.host, port: upstream.port });
    const pair: [Socket, Socket] = [client, remote];
    pairs.add(pair);
    for (const socket of pair) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        sockets.delete(socket);
        pairs.delete(pair);
        // A connection the network forgot tells neither peer that the other went.
        if (stuck.delete(socket)) return;
        client.destroy();
        remote.destroy();
      });
    }
    forward(client, remote);
    forward(remote, client);
    if (frozen) {
      client.pause();
      remote.pause();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  return {
    host: '127.0.0.1',
    port,
    freeze() {
      frozen = true;
      for (const [a, b] of pairs) {
        a.pause();
        b.pause();
      }
    },
    freezeConnections() {
      frozen = false;
      for (const pair of pairs) {
        for (const socket of pair) {
          stuck.add(socket);
          socket.pause();
        }
      }
    },
    thaw() {
      frozen = false;
      stuck.clear();
      for (const [a, b] of pairs) {
        a.resume();
        b.resume();
      }
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
