import { jsonPath } from '../json-file.js';
import type { PyNode } from './python-literal.js';

/** A literal as JSON: tuples and sets become lists, a call `Name(k = v)` becomes `{call: 'Name', args: {k: v}}`. */
export type PyValue = string | number | boolean | null | PyValue[] | { [key: string]: PyValue };

/** Where each value came from: `modules.DQCSS.level` → its line, by the path as describeJsonIssues writes it. */
export type LineMap = Map<string, number>;

/**
 * The JSON form of a literal, recording the line of every value (for a dict's value: its key's
 * line, where a person looks) under its path. Dict keys become text; a set keeps its first of
 * equal items.
 */
export function toJsonValue(node: PyNode, lines: LineMap, path: readonly PropertyKey[] = []): PyValue {
  lines.set(jsonPath(path), node.line);
  switch (node.kind) {
    case 'string':
    case 'number':
    case 'constant':
      return node.value;
    case 'invalid':
      return null;
    case 'list':
    case 'tuple':
      return node.items.map((item, index) => toJsonValue(item, lines, [...path, index]));
    case 'set': {
      const seen = new Set<string>();
      const unique = node.items.filter((item) => {
        const key = JSON.stringify(toJsonValue(item, new Map()));
        return seen.has(key) ? false : Boolean(seen.add(key));
      });
      return unique.map((item, index) => toJsonValue(item, lines, [...path, index]));
    }
    case 'dict': {
      const value: Record<string, PyValue> = {};
      for (const entry of node.entries) {
        const key = entry.key.kind === 'string' ? entry.key.value : JSON.stringify(toJsonValue(entry.key, new Map()));
        lines.set(jsonPath([...path, key]), entry.key.line);
        // defined, not assigned: a key named __proto__ is a key like any other
        Object.defineProperty(value, key, {
          value: toJsonValue(entry.value, lines, [...path, key]),
          enumerable: true,
          writable: true,
          configurable: true,
        });
        lines.set(jsonPath([...path, key]), entry.key.line);
      }
      return value;
    }
    case 'call': {
      const args: Record<string, PyValue> = {};
      for (const arg of node.args)
        Object.defineProperty(args, arg.name, {
          value: toJsonValue(arg.value, lines, [...path, 'args', arg.name]),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      return { call: node.name, args };
    }
  }
}
