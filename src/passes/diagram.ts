import { PASS_STATUSES } from '../model/status.js';
import { TRANSITIONS, type Moves, type TransitionName } from './rules.js';

/**
 * The pass statuses and the transitions between them, as a Mermaid state diagram drawn from
 * `TRANSITIONS` (the README shows it; a test keeps the two the same). A transition that keeps the
 * status (renewing a lease, recording a submission) is left out.
 */
export function statusDiagram(): string {
  const edges = new Map<string, TransitionName[]>();
  for (const [name, moves] of Object.entries(TRANSITIONS) as Array<[TransitionName, Moves]>) {
    if (name === 'copy') continue;
    for (const [start, ends] of Object.entries(moves))
      for (const end of ends) {
        if (start === end) continue;
        const key = `${start} --> ${end}`;
        edges.set(key, [...(edges.get(key) ?? []), name]);
      }
  }
  const order = (key: string) => key.split(' --> ').map((status) => PASS_STATUSES.indexOf(status as never));
  const lines = [...edges]
    .sort(([a], [b]) => {
      const [a1 = 0, a2 = 0] = order(a);
      const [b1 = 0, b2 = 0] = order(b);
      return a1 - b1 || a2 - b2;
    })
    .map(([edge, names]) => `    ${edge}: ${names.join(', ')}`);
  return ['```mermaid', 'stateDiagram-v2', '    [*] --> waiting: submit, process, copy', ...lines, '```'].join('\n');
}

export const DIAGRAM_START = '<!-- pass statuses: drawn from src/passes/rules.ts by scripts/status-diagram.ts -->';
export const DIAGRAM_END = '<!-- end of pass statuses -->';

/** The README with its status diagram replaced by the one drawn now. */
export function withDiagram(readme: string): string {
  const start = readme.indexOf(DIAGRAM_START);
  const end = readme.indexOf(DIAGRAM_END);
  if (start < 0 || end < start) throw new Error(`README.md has no "${DIAGRAM_START}" … "${DIAGRAM_END}" block`);
  return `${readme.slice(0, start + DIAGRAM_START.length)}\n${statusDiagram()}\n${readme.slice(end)}`;
}
