/**
 * Replaces the credentials in any `scheme://user:password@host` inside a text with `***`. A
 * password may hold `/`, `@` or `:`, so everything up to the last `@` of the URL goes.
 */
export function scrubCredentials(text: string): string {
  return text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/)[^\s]*@/gi, '$1***@');
}

/** One value that may be a URL with credentials, spaces in the password included. */
export function scrubValue(value: string): string {
  return value.replace(/^(\s*[a-z][a-z0-9+.-]*:\/\/).*@/is, '$1***@');
}

/** A URL for logs and errors: credentials scrubbed, no trailing slash. */
export function displayUrl(url: URL | string): string {
  const parsed = new URL(String(url));
  if (parsed.password !== '') parsed.password = '***';
  return parsed.toString().replace(/\/$/, '');
}
