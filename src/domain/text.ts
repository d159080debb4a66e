// Free text users and peers send: refuses what Postgres cannot store (NUL) and what is not valid
// Unicode (lone surrogates), so bad input is `invalid_input` at validation, never a failed statement.
import { z } from 'zod';

// eslint-disable-next-line no-control-regex
const NUL = /\u0000/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why `value` cannot be stored as text, or null when it can. */
export function unstorableTextReason(value: string): string | null {
  if (NUL.test(value)) return 'must not contain NUL (\\u0000) characters';
  if (LONE_SURROGATE.test(value)) return 'must be valid Unicode (no lone surrogate halves)';
  return null;
}

/**
 * The first string in `value` (object keys included) that cannot be stored, as `path: reason`, or null.
 * Schemas use safeText for free text; this is the backstop for what a schema lets through as data (a
 * record's keys, `z.unknown()` payloads), so such input is refused before a handler runs.
 */
export function unstorableValueReason(value: unknown, path: readonly (string | number)[] = []): string | null {
  const where = (): string => (path.length === 0 ? 'input' : path.join('.'));
  if (typeof value === 'string') {
    const reason = unstorableTextReason(value);
    return reason === null ? null : `${where()}: ${reason}`;
  }
  if (typeof value !== 'object' || value === null) return null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = unstorableValueReason(value[i], [...path, i]);
      if (found !== null) return found;
    }
    return null;
  }
  for (const [key, item] of Object.entries(value)) {
    const keyReason = unstorableTextReason(key);
    if (keyReason !== null) return `${where()}: a key ${keyReason}`;
    const found = unstorableValueReason(item, [...path, key]);
    if (found !== null) return found;
  }
  return null;
}

/** True when `value` can be stored in a Postgres text column as is. */
export function isStorableText(value: string): boolean {
  return unstorableTextReason(value) === null;
}

/**
 * A string schema for free text: no NUL, no lone surrogates, at most `max` characters (when given).
 * Use it for every string field that is not already constrained by a stricter pattern.
 */
export function safeText(opts: { min?: number; max?: number } = {}): z.ZodString {
  let schema = z.string();
  if (opts.min !== undefined) schema = schema.min(opts.min);
  if (opts.max !== undefined) schema = schema.max(opts.max);
  return schema.superRefine((value, ctx) => {
    const reason = unstorableTextReason(value);
    if (reason !== null) ctx.addIssue({ code: 'custom', message: reason });
  });
}
