import { createServer } from 'node:net';

/** Whether nothing listens on host:port now (a later bind may still lose a race). */
export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/** A port the system says is free. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** This port when nothing listens on it, else 0 (any free port). */
export async function freePortOr(port: number, host = '127.0.0.1'): Promise<number> {
  return (await isPortFree(port, host)) ? port : 0;
}
