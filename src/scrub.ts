/** Replaces the password in any `scheme://user:password@host` inside `text` with `***`. */
export function scrubCredentials(text: string): string {
  return text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/)([^\s/@:]*):([^\s/@]*)@/gi, '$1$2:***@');
}

/** A URL for logs and errors: credentials scrubbed, no trailing slash. */
export function displayUrl(url: URL | string): string {
  const parsed = new URL(String(url));
  if (parsed.password !== '') parsed.password = '***';
  return parsed.toString().replace(/\/$/, '');
}
