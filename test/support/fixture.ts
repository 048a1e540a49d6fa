import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURE_RELEASE } from '../../src/paths.js';

export { FIXTURE_RELEASE };

/** A copy of the fixture release a test may change. */
export function copyOfFixtureRelease(): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'gasp-release-')), 'rat-7.0.8');
  cpSync(FIXTURE_RELEASE, dir, { recursive: true });
  return dir;
}
