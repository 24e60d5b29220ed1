import type { ValidationError } from '../../domain/deployment';

/**
 * Deepest nesting a request may have. The request itself needs three levels
 * (`$.notify[0].url`); the rest is room for extension fields. A document a
 * few thousand levels deep fits in MAX_EVENT_BYTES but cannot be passed on:
 * JSON.stringify overflows the stack on it.
 */
export const MAX_REQUEST_DEPTH = 32;

/** Keys that name prototype members: no request needs them, and careless readers follow them. */
const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** `$`, `.key`, `[index]`: the JSON path form operators read in errors. */
export function jsonPath(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>((out, key) => {
    if (typeof key === 'number') {
      return `${out}[${key}]`;
    }
    const name = String(key);
    return /^[A-Za-z_$][\w$]*$/.test(name) ? `${out}.${name}` : `${out}[${JSON.stringify(name)}]`;
  }, '$');
}

/** Own members of an array or object, as [key, value] pairs (arrays by index). */
function membersOf(value: object): Array<[PropertyKey, unknown]> {
  return Array.isArray(value)
    ? value.map((item: unknown, index): [PropertyKey, unknown] => [index, item])
    : Object.entries(value);
}

/**
 * Problems of the request document as a whole, whatever its fields: nesting
 * deeper than MAX_REQUEST_DEPTH (reported once, at the first level too
 * deep) and keys naming prototype members. Walks with its own stack, so
 * depth cannot overflow it.
 */
export function documentProblems(data: unknown): ValidationError[] {
  const problems: ValidationError[] = [];
  let tooDeep = false;
  const stack: Array<{ value: unknown; path: PropertyKey[] }> = [{ value: data, path: [] }];
  while (stack.length > 0) {
    const { value, path } = stack.pop() as { value: unknown; path: PropertyKey[] };
    if (value === null || typeof value !== 'object') {
      continue;
    }
    if (path.length >= MAX_REQUEST_DEPTH) {
      if (!tooDeep) {
        tooDeep = true;
        problems.push({
          path: jsonPath(path),
          message: `is nested deeper than ${MAX_REQUEST_DEPTH} levels`,
        });
      }
      continue;
    }
    for (const [key, member] of membersOf(value).reverse()) {
      if (typeof key === 'string' && PROTOTYPE_KEYS.has(key)) {
        problems.push({ path: jsonPath([...path, key]), message: 'is not an allowed key' });
        continue;
      }
      stack.push({ value: member, path: [...path, key] });
    }
  }
  return problems;
}

/**
 * `data` cut at MAX_REQUEST_DEPTH (deeper values become null), so an
 * invalid request can still be carried in `validation:completed`.
 */
export function withinDepth(data: unknown, depth = 0): unknown {
  if (data === null || typeof data !== 'object') {
    return data;
  }
  if (depth >= MAX_REQUEST_DEPTH) {
    return null;
  }
  if (Array.isArray(data)) {
    return data.map((item: unknown) => withinDepth(item, depth + 1));
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(data)) {
    // defineProperty: an own "__proto__" key stays a key and never becomes the prototype.
    Object.defineProperty(out, key, {
      value: withinDepth(value, depth + 1),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}
