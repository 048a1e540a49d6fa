import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { InputError } from './errors.js';

/** Writes a file whole or not at all: a crash leaves the old file (or none), never half a new one. */
export function writeFileAtomic(path: string, text: string): void {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    writeFileSync(temporary, text);
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
}

/** Writes a command's output to the file a person named, whole (see writeFileAtomic); `-` is standard output. */
export function writeOutputFile(path: string, text: string): void {
  if (path === '-') process.stdout.write(text);
  else writeFileAtomic(path, text);
}

/** The sha256 of a file's bytes, read as a stream (outputs can be gigabytes). */
export function sha256OfFile(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/**
 * Reads a file a person gave us; `-` is standard input. A file that cannot be read is one input
 * problem naming it and what was expected there.
 */
export function readUserFile(file: string, expected: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : `cannot be read (${code})`;
    throw new InputError([`${file}: ${why} (expected ${expected})`]);
  }
}

/** Makes a folder a person named for output (with its parents); one input problem when it cannot be. */
export function makeUserFolder(option: string, dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new InputError([`${option}: "${dir}" cannot be made (${code}) (expected a folder this user can write into)`]);
  }
}
