import { createServer, type Server } from 'node:net';
import { UnavailableError } from '../errors.js';

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

/** The one line for a port another program holds: which port, who likely holds it, and what to do. */
export function portInUse(port: number, host: string, likelyHolder: string): UnavailableError {
  return new UnavailableError(`port ${port} on ${host} is in use (${likelyHolder}); choose another with --port`);
}

/** Listens on host:port; a port in use is that one line (see portInUse), not a stack trace. */
export function listenOn(server: Server, port: number, host: string, likelyHolder: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? portInUse(port, host, likelyHolder) : error),
    );
    server.listen(port, host, resolve);
  });
}
