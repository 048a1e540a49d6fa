/**
 * Template fields the job wrapper fills itself, so a request never gives them: the output file's
 * base name, the events of this job and its run number. Every other `${field}` of a macro comes
 * from the request's `template`.
 */
export const FILLED_BY_GASP = ['OUTPUT', 'NEVENTS', 'RUN'] as const;

export type TemplateValues = Record<string, string | number>;

/** The fields a request must give for a module: its template minus those gasp fills. */
export function requestFields(template: readonly string[]): string[] {
  return template.filter((field) => !(FILLED_BY_GASP as readonly string[]).includes(field));
}
