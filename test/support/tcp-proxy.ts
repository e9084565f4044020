import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of a server (PostgreSQL here) that a test can turn into an outage:
 * - `refuse()`: open connections are reset and new ones refused, as when the server is down or restarting;
 * - `reset()`: open connections are reset, new ones forwarded, as after a failover;
 * - `silence()`: every connection, open or new, stays open but nothing passes either way, as when a
 *   network path dies without a reset (a NAT entry dropped, a failover that sends nothing);
 * - `silenceAt(text)`: the same, from the moment a client sends bytes holding `text` (those bytes included),
 *   so the path dies in the middle of a chosen statement;
 * - `restore()`: forwarding as normal again.
 */
export interface TcpProxy {
  /** The proxy's port on 127.0.0.1. */
  port: number;
  /** `url` with its host and port replaced by the proxy's. */
  urlThrough(url: string): string;
  /** Connections accepted so far. */
  readonly accepted: number;
  refuse(): Promise<void>;
  reset(): void;
  silence(): void;
  silenceAt(text: string): void;
  restore(): Promise<void>;
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  upstream: Socket;
}

/** Starts a proxy on a free port of 127.0.0.1 forwarding to `target`. */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  let silent = false;
  let silentFrom: string | undefined;
  let accepted = 0;

  const onConnection = (client: Socket) => {
    accepted += 1;
    const upstream = connect(target.port, target.host);
    const pair = { client, upstream };
    pairs.add(pair);
    // Bytes are dropped while silent: neither side hears anything, and neither side is told.
    client.on('data', (chunk: Buffer) => {
      if (silentFrom !== undefined && chunk.includes(silentFrom)) {
        silent = true;
        silentFrom = undefined;
      }
      if (!silent) upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (!silent) client.write(chunk);
    });
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  };

  let server: Server = createServer(onConnection);
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        const address = server.address();
        resolve(typeof address === 'object' && address ? address.port : port);
      });
    });
  const stopListening = () => new Promise<void>((resolve) => server.close(() => resolve()));
  const resetAll = () => {
    for (const { client, upstream } of pairs) {
      client.resetAndDestroy();
      upstream.destroy();
    }
    pairs.clear();
  };

  const port = await listen(0);
  let listening = true;
  return {
    port,
    urlThrough: (url) => {
      const parsed = new URL(url);
      parsed.hostname = '127.0.0.1';
      parsed.port = String(port);
      return parsed.toString();
    },
    get accepted() {
      return accepted;
    },
    refuse: async () => {
      if (listening) {
        listening = false;
        const closed = stopListening();
        resetAll();
        await closed;
      }
    },
    reset: resetAll,
    silence: () => {
      silent = true;
    },
    silenceAt: (text) => {
      silentFrom = text;
    },
    restore: async () => {
      silent = false;
      silentFrom = undefined;
      if (!listening) {
        server = createServer(onConnection);
        await listen(port);
        listening = true;
      }
    },
    close: async () => {
      resetAll();
      if (listening) await stopListening();
    },
  };
}
