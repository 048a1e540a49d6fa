/**
 * Quotes one word for a POSIX shell. Used only where a line must be shell text (a RAT set-up line
 * inside the job wrapper); everything else is spawned with argument arrays.
 */
export function shellQuote(word: string): string {
  if (word !== '' && /^[A-Za-z0-9_./:=@%+,-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** Fills `{name}` placeholders, shell-quoting each value. Unknown placeholders are left to the caller's validation. */
export function fillShellTemplate(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const value = values[name];
    return value === undefined ? whole : shellQuote(value);
  });
}

/** The `{name}` placeholders a template uses. */
export function placeholders(template: string): string[] {
  return [...template.matchAll(/\{(\w+)\}/g)].map((match) => match[1] ?? '');
}
