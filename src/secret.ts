import { inspect } from 'node:util';

/**
 * A password that cannot leak by accident: printing, logging, JSON or string conversion all give
 * `***`. Only `reveal()` gives the value, and only the code that builds the HTTP header calls it.
 */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return '***';
  }
  toJSON(): string {
    return '***';
  }
  [inspect.custom](): string {
    return '***';
  }
}
