import { relative } from 'node:path';
import type { Reporter, TestCase, TestModule, Vitest } from 'vitest/node';

/**
 * After the default reporter's summary, names every skipped test and why: the reason its skip gave
 * (`skip(reason)`, see support/skip.ts), else "no reason given". Tests left out by `-t` carry no
 * reason and are not listed then: the person running knows why.
 */
export default class SkippedTestsReporter implements Reporter {
  #vitest: Vitest | undefined;

  onInit(vitest: Vitest): void {
    this.#vitest = vitest;
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const filtered = this.#vitest?.config.testNamePattern !== undefined;
    const root = this.#vitest?.config.root ?? process.cwd();
    const lines = modules.flatMap((module) =>
      [...module.children.allTests('skipped')].flatMap((test) => {
        const reason = reasonOf(test);
        if (reason === undefined && filtered) return [];
        return [
          `  ${relative(root, module.moduleId)} > ${test.fullName}: ${reason ?? (test.options.mode === 'todo' ? 'to do' : 'no reason given')}`,
        ];
      }),
    );
    if (lines.length === 0) return;
    const log = (text: string) =>
      this.#vitest === undefined ? process.stdout.write(`${text}\n`) : this.#vitest.logger.log(text);
    log(` skipped ${lines.length} ${lines.length === 1 ? 'test' : 'tests'}:\n${lines.join('\n')}`);
  }
}

function reasonOf(test: TestCase): string | undefined {
  const result = test.result();
  return result.state === 'skipped' ? result.note : undefined;
}
