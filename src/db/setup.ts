import type { Couch } from './couch.js';
import { pushDesignDocs, type DesignDoc, type PushResult } from './design-docs.js';

export interface DatabaseSetup {
  database: string;
  created: boolean;
  designDocs: PushResult[];
}

/** Creates each database that is missing and pushes the design documents into it. */
export async function setUpDatabases(
  couch: Couch,
  names: readonly string[],
  designDocs: readonly DesignDoc[],
): Promise<DatabaseSetup[]> {
  const setups: DatabaseSetup[] = [];
  for (const name of names) {
    const db = couch.use(name);
    const created = await db.create();
    setups.push({ database: name, created, designDocs: await pushDesignDocs(db, designDocs) });
  }
  return setups;
}

/** `3 created, 1 unchanged`: one line for a database's design documents. */
export function describePushes(results: readonly PushResult[]): string {
  const counts = new Map<string, number>();
  for (const result of results) counts.set(result.outcome, (counts.get(result.outcome) ?? 0) + 1);
  return [...counts].map(([outcome, count]) => `${count} ${outcome}`).join(', ');
}

export const STANDARD_DATABASES = ['data-production', 'data-processing'] as const;
