/** How gasp words things for people: counts with their noun, and "did you mean" for a name it does not know. */

/** `1 pass`, `2 passes`, `0.5 days`: the noun agrees with the number. */
export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

/** Edit distance (insertions, deletions, substitutions). */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        (previous[j] ?? 0) + 1,
        (current[j - 1] ?? 0) + 1,
        (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The candidate a mistyped name most likely meant (case aside, or a few letters off), if any is close. */
export function closest(name: string, candidates: Iterable<string>): string | undefined {
  const lower = name.toLowerCase();
  let best: { candidate: string; score: number } | undefined;
  for (const candidate of candidates) {
    if (candidate.toLowerCase() === lower) return candidate;
    const score = distance(lower, candidate.toLowerCase());
    if (best === undefined || score < best.score) best = { candidate, score };
  }
  return best !== undefined && best.score <= Math.max(2, Math.floor(name.length / 4)) ? best.candidate : undefined;
}

/** ` (did you mean "x"?)` when a candidate is close, else nothing: the tail of a "no such …" line. */
export function didYouMean(name: string, candidates: Iterable<string>): string {
  const guess = closest(name, candidates);
  return guess === undefined ? '' : ` (did you mean "${guess}"?)`;
}
