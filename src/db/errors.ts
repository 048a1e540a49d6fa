import { GaspError } from '../errors.js';
import { scrubCredentials } from '../scrub.js';

export interface DbErrorDetails {
  statusCode?: number;
  error?: string;
  reason?: string;
  /** What was asked, credentials scrubbed: `PUT http://host:5984/db/doc`. */
  request: string;
}

/** An answer from CouchDB (or no answer), keeping CouchDB's shape: statusCode, error, reason. */
export class DbError extends GaspError {
  override readonly code: string = 'E_DB';
  readonly statusCode: number | undefined;
  readonly error: string | undefined;
  readonly reason: string | undefined;
  readonly request: string;
  constructor(details: DbErrorDetails, message?: string) {
    const request = scrubCredentials(details.request);
    const answer = [details.statusCode, details.error].filter((part) => part !== undefined).join(' ');
    const reason = details.reason !== undefined && details.reason !== details.error ? `: ${details.reason}` : '';
    super(scrubCredentials(message ?? `CouchDB answered ${answer}${reason} (${request})`));
    this.name = new.target.name;
    this.statusCode = details.statusCode;
    this.error = details.error;
    this.reason = details.reason;
    this.request = request;
  }
}

/** 409: someone else's write won (a stale `_rev`); an expected answer, not a failure. */
export class ConflictError extends DbError {
  override readonly code = 'E_CONFLICT';
}

/** 404: no such database, document or view. */
export class NotFoundError extends DbError {
  override readonly code = 'E_NOT_FOUND';
}

/** 401/403: wrong credentials, or not allowed (including a validate_doc_update refusal). */
export class AuthError extends DbError {
  override readonly code = 'E_AUTH';
}

/** No usable answer after retries: connection refused, timeout, 5xx or 429. */
export class UnreachableError extends DbError {
  override readonly code = 'E_UNREACHABLE';
}

/** What nano throws: an Error with CouchDB's fields, or a connection error with no status. */
interface NanoFailure {
  message?: unknown;
  statusCode?: unknown;
  error?: unknown;
  reason?: unknown;
}

/** Maps what nano threw to our classes. The one place that knows nano's error shape. */
export function mapError(thrown: unknown, request: string): DbError {
  if (thrown instanceof DbError) return thrown;
  const failure = (typeof thrown === 'object' && thrown !== null ? thrown : {}) as NanoFailure;
  const statusCode = typeof failure.statusCode === 'number' ? failure.statusCode : undefined;
  const error = typeof failure.error === 'string' ? failure.error : undefined;
  const reason = typeof failure.reason === 'string' ? failure.reason : undefined;
  if (statusCode === undefined) {
    const message = typeof failure.message === 'string' ? failure.message : String(thrown);
    // nano words connection failures as "error happened in your connection. Reason: <cause>"
    const cause = message.replace(/^error happened in your connection\. Reason: /, '').replace(/^(Type)?Error: /, '');
    return new UnreachableError({ request, reason: cause }, `no answer from CouchDB: ${cause} (${request})`);
  }
  const details = {
    statusCode,
    request,
    ...(error !== undefined && { error }),
    ...(reason !== undefined && { reason }),
  };
  if (statusCode === 409) return new ConflictError(details);
  if (statusCode === 404) return new NotFoundError(details);
  if (statusCode === 401 || statusCode === 403) return new AuthError(details);
  if (statusCode >= 500 || statusCode === 429) return new UnreachableError(details);
  return new DbError(details);
}

/** Worth asking again: no answer, a server error, or "too many requests". Other 4xx mean the request is wrong. */
export function isTransient(error: DbError): boolean {
  return error instanceof UnreachableError;
}
