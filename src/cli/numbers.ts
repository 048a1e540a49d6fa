/**
 * Number options, checked the same way by every command: a problem line is added (the command
 * reports them all at once, exit code 2) and the number returned for when there is none.
 */
export function wholeNumber(
  option: string,
  text: string,
  problems: string[],
  example = '10',
  negativeAllowed = false,
): number {
  if (!(negativeAllowed ? /^-?\d+$/ : /^\d+$/).test(text))
    problems.push(`${option}: "${text}" is not a whole number (expected such as ${example})`);
  return Number(text);
}

export function positiveNumber(option: string, text: string, problems: string[]): number {
  if (!/^\d+(\.\d+)?$/.test(text) || Number(text) <= 0)
    problems.push(`${option}: "${text}" is not a number more than 0`);
  return Number(text);
}
