import { InputError } from '../../src/errors.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh temporary folder holding the given files. */
export function folderWith(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'gasp-test-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

/**
 * Writes `text` to a file, loads it with `load`, and returns the problems it was refused with,
 * the file's path written as FILE so expectations read the same in every test.
 */
export function problemsOf(load: (file: string) => unknown, name: string, text: string): string[] {
  const file = join(folderWith({ [name]: text }), name);
  try {
    load(file);
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    return error.problems.map((line) => line.replace(file, 'FILE'));
  }
  throw new Error(`expected ${name} to be refused`);
}
