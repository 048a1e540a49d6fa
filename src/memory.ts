const MB_PER_UNIT: Record<string, number> = { K: 1 / 1024, M: 1, G: 1024, T: 1024 * 1024 };

/** A memory size as batch systems write it (`4G`, `512M`, `4000`: megabytes without a unit) in megabytes; undefined if it is not one. */
export function megabytes(size: string): number | undefined {
  const match = /^(\d+)([KMGT]?)B?$/i.exec(size.trim());
  if (match === null) return undefined;
  return Number(match[1]) * (MB_PER_UNIT[(match[2] ?? '').toUpperCase() || 'M'] ?? 1);
}
