import { createServer } from 'node:net';

/**
 * A port on 127.0.0.1 that nothing listens on right now. Servers that cannot listen on port 0
 * themselves (PostgreSQL is told its port up front) take one from here; the short gap before they
 * bind it is acceptable for local, throwaway servers.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no free port'))));
    });
  });
}
