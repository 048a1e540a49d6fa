import { createReadStream } from 'node:fs';

const MOD = 65_521;
/** The most bytes summed before the sums must be reduced so they stay below 2^53 (zlib's NMAX, generous here). */
const RUN = 5_552;

/** adler32, the grid's checksum (DIRAC, Rucio, FTS and XRootD compare it), computed as bytes pass. */
export class Adler32 {
  private a = 1;
  private b = 0;

  update(bytes: Uint8Array): this {
    let { a, b } = this;
    for (let start = 0; start < bytes.length; start += RUN) {
      const end = Math.min(start + RUN, bytes.length);
      for (let i = start; i < end; i++) {
        a += bytes[i] as number;
        b += a;
      }
      a %= MOD;
      b %= MOD;
    }
    this.a = a;
    this.b = b;
    return this;
  }

  /** Eight lower-case hex digits, zero-padded, as `xrdfs query checksum` prints them. */
  digest(): string {
    return (((this.b << 16) | this.a) >>> 0).toString(16).padStart(8, '0');
  }
}

/** The adler32 of a file's bytes, read as a stream. */
export function adler32OfFile(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sum = new Adler32();
    createReadStream(path, { highWaterMark: 1 << 20 })
      .on('data', (chunk) => sum.update(chunk as Buffer))
      .on('error', reject)
      .on('end', () => resolve(sum.digest()));
  });
}

/** Checksums as SEs and tools print them (`84b021f`, `0x084B021F`) in one form: eight lower-case hex digits. */
export function normalAdler32(text: string): string {
  return text.trim().toLowerCase().replace(/^0x/, '').padStart(8, '0');
}
