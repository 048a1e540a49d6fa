import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { InputError } from '../errors.js';
import { RAT_VERSION } from '../sites/rat.js';

export interface ReleaseVersion {
  version: string;
  /** Where it came from, to tell the user: `--version`, `VERSION file`, `folder name rat-7.0.8`. */
  source: string;
}

const EXPECTED = 'expected x.y.z such as 7.0.8';

/** The RAT version of a release: `--version` wins, then a VERSION file, then the folder's name. */
export function releaseVersion(ratDir: string, explicit?: string): ReleaseVersion {
  if (explicit !== undefined) {
    if (!RAT_VERSION.test(explicit))
      throw new InputError([`--version: "${explicit}" is not a RAT version (${EXPECTED})`]);
    return { version: explicit, source: '--version' };
  }
  const versionFile = join(ratDir, 'VERSION');
  if (existsSync(versionFile)) {
    let text: string;
    try {
      text = readFileSync(versionFile, 'utf8').trim();
    } catch (error) {
      throw new InputError([
        `${versionFile}: cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}) (expected the release's version, or pass --version)`,
      ]);
    }
    if (!RAT_VERSION.test(text))
      throw new InputError([`${versionFile}: "${text}" is not a RAT version (${EXPECTED}, or pass --version)`]);
    return { version: text, source: `${versionFile}` };
  }
  const folder = basename(resolve(ratDir));
  const match = /(\d+\.\d+\.\d+)$/.exec(folder);
  if (match?.[1] !== undefined) return { version: match[1], source: `folder name ${folder}` };
  throw new InputError([
    `${ratDir}: has no VERSION file and its name "${folder}" holds no version (pass --version, ${EXPECTED})`,
  ]);
}
