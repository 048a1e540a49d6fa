/**
 * The requests SNO+'s GridTools (production_list, processing_list: database.py's `view`) make: a GET
 * of a view with each query value JSON-encoded by Python's json.dumps and the whole query string
 * built by urllib.urlencode, as plain HTTP without gasp's client.
 */
import { inject } from 'vitest';
import type { Database } from '../../src/db/database.js';
import { testCredentials } from './test-server.js';

export interface ViewRow {
  id?: string;
  key: unknown[];
  value: unknown;
}

/** Python's json.dumps with its default separators: `", "` between items, `": "` after a key. */
export function pythonJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(', ')}]`;
  if (value !== null && typeof value === 'object')
    return `{${Object.entries(value)
      .map(([key, item]) => `${JSON.stringify(key)}: ${pythonJson(item)}`)
      .join(', ')}}`;
  return JSON.stringify(value);
}

/** Python 2's urllib.quote_plus: letters, digits and `_.-` kept, a space as `+`, every other byte as %XX. */
export function quotePlus(text: string): string {
  return [...Buffer.from(text, 'utf8')]
    .map((byte) => {
      const char = String.fromCharCode(byte);
      if (/[A-Za-z0-9_.-]/.test(char)) return char;
      return byte === 0x20 ? '+' : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    })
    .join('');
}

/** The URL GridTools asks for `view_name` (such as `_design/proddata/_view/data_by_label`) with these options. */
export function gridToolsUrl(db: Database, viewName: string, options: Record<string, unknown>): string {
  const query = Object.entries(options)
    .map(([name, value]) => `${name}=${quotePlus(pythonJson(value))}`)
    .join('&');
  return `${inject('couchUrl')}/${db.name}/${viewName}?${query}`;
}

/** GridTools' database.view: the rows of the answer (a login as its ~/.netrc would give). */
export async function gridToolsView(
  db: Database,
  viewName: string,
  options: Record<string, unknown>,
): Promise<ViewRow[]> {
  const { user, password } = testCredentials();
  const headers: Record<string, string> =
    user === undefined || password === undefined
      ? {}
      : { Authorization: `Basic ${Buffer.from(`${user}:${password.reveal()}`).toString('base64')}` };
  const response = await fetch(gridToolsUrl(db, viewName, options), { headers });
  const body = (await response.json()) as { rows?: ViewRow[] };
  if (response.status !== 200 || body.rows === undefined)
    throw new Error(`${viewName}: HTTP ${response.status}: ${JSON.stringify(body)}`);
  return body.rows;
}
