import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../src/paths.js';

// inside the checkout (.scratch is ignored), so the runs below find vitest in node_modules
mkdirSync(join(PACKAGE_ROOT, '.scratch'), { recursive: true });
const dir = mkdtempSync(join(PACKAGE_ROOT, '.scratch', 'skipped-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const FIXTURE = `import { describe, it } from 'vitest';
import { skipUnless } from ${JSON.stringify(join(PACKAGE_ROOT, 'test/support/skip.ts'))};
describe('a part that needs a thing', () => {
  skipUnless(false, 'no thing here: install it');
  it('uses the thing', () => {});
});
it('runs anywhere', () => {});
it('skips itself', ({ skip }) => skip(true, 'not on this machine'));
it.skip('is skipped without a reason', () => {});
`;

/** vitest on the fixture with the project's own reporters (vitest.config.ts), as `npm test` runs. */
function runVitest(args: string[] = []): Promise<{ code: number | null; stdout: string }> {
  writeFileSync(join(dir, 'fixture.check.ts'), FIXTURE);
  writeFileSync(
    join(dir, 'vitest.config.ts'),
    `import project from ${JSON.stringify(join(PACKAGE_ROOT, 'vitest.config.ts'))};\nexport default { test: { include: ['*.check.ts'], reporters: project.test?.reporters } };\n`,
  );
  // the run under test must not think it is a worker of this one
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('VITEST') && name !== 'NODE_OPTIONS'),
  );
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [join(PACKAGE_ROOT, 'node_modules/vitest/vitest.mjs'), 'run', '--root', dir, ...args],
      { cwd: dir, env: { ...env, NO_COLOR: '1', CI: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.resume();
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout }));
  });
}

describe('npm test with skipped tests', () => {
  it('names each skipped test and the reason its skip gave, after the usual summary', async () => {
    const { code, stdout } = await runVitest();
    expect(code).toBe(0);
    expect(stdout).toMatch(/Tests\s+1 passed \| 3 skipped \(4\)/);
    const list = stdout.slice(stdout.indexOf(' skipped 3 tests:'));
    expect(list.trim().split('\n')).toEqual([
      'skipped 3 tests:',
      '  fixture.check.ts > a part that needs a thing > uses the thing: no thing here: install it',
      '  fixture.check.ts > skips itself: not on this machine',
      '  fixture.check.ts > is skipped without a reason: no reason given',
    ]);
  }, 60_000);

  it('leaves out the tests a -t filter skipped', async () => {
    const { code, stdout } = await runVitest(['-t', 'runs anywhere']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/Tests\s+1 passed \| 3 skipped \(4\)/);
    expect(stdout).not.toContain('no reason given');
    expect(stdout).not.toMatch(/skipped \d+ tests?:/);
  }, 60_000);
});
