/**
 * A pass's or data document's label as stored. gasp writes one label; GASP's
 * manage_production_labels.py keeps a list of them in the same field (`["Water_Test", "v2"]`), and
 * a collaboration switching over still has those documents: a pass belongs to every label it lists.
 */
export type Label = string | string[];

/** Every label the stored value names, in order; none for a value that is neither text nor a list of text. */
export function labelsOf(label: unknown): string[] {
  if (typeof label === 'string') return label === '' ? [] : [label];
  if (!Array.isArray(label)) return [];
  return label.filter((one): one is string => typeof one === 'string' && one !== '');
}

/** The label that names folders and LFNs, and that policies are read under first: the first one listed. */
export function mainLabel(label: Label): string {
  return labelsOf(label)[0] ?? '';
}

/** As a shifter reads it: `A` or `A + B`. */
export function labelText(label: Label): string {
  return labelsOf(label).join(' + ');
}

export function hasLabel(label: Label, wanted: string): boolean {
  return labelsOf(label).includes(wanted);
}

/** What is wrong with a stored label, or undefined when it is one label or a list of labels. */
export function malformedLabel(label: unknown): string | undefined {
  if (typeof label === 'string' && label !== '') return undefined;
  if (Array.isArray(label) && label.length > 0 && labelsOf(label).length === label.length) return undefined;
  return `label ${JSON.stringify(label)} is not a label or a list of labels`;
}

/** What a map holds for the first of the labels that has an entry (a label's policy, say). */
export function byLabel<T>(map: ReadonlyMap<string, T>, label: Label): T | undefined {
  for (const one of labelsOf(label)) {
    const found = map.get(one);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Whether any of the labels is in the set (a paused label, say). */
export function anyLabelIn(set: ReadonlySet<string>, label: Label): boolean {
  return labelsOf(label).some((one) => set.has(one));
}
