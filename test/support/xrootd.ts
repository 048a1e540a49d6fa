import { inject } from 'vitest';
import { skipUnless } from './skip.js';

/** The run's XRootD storage element (test/support/xrootd-server.ts starts it), if there is one. */
export function testSe(): { url: string; data: string } | undefined {
  const se = inject('xrootd');
  return 'url' in se ? se : undefined;
}

/** Skips the enclosing describe's tests when the run has no XRootD server, saying why. */
export function needsXrootd(): { url: string; data: string } {
  const se = inject('xrootd');
  skipUnless('url' in se, 'unavailable' in se ? se.unavailable : '');
  return 'url' in se ? se : { url: 'root://127.0.0.1:1', data: '/nonexistent' };
}
