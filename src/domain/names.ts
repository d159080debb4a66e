// Shapes of names, versions and digests users type. Pure: zod schemas only.
import { z } from 'zod';
import { safeText } from './text.js';

export const moduleNameSchema = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9._-]{0,62}$/,
    'lowercase letters, digits, ".", "_" or "-", 1–63 characters, starting with a letter or digit',
  );

export const versionSchema = z
  .string()
  .regex(/^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$/, 'letters, digits, ".", "+", "_" or "-", 1–64 characters (e.g. 1.26.0)');

export const digestSchema = z.string().regex(/^sha256:[0-9a-f]{64}$/, 'sha256: followed by 64 lowercase hex digits');

export const operatorNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, 'letters, digits, ".", "_", "@" or "-", 1–64 characters');

export const uuidSchema = z.uuid();

/** True when `value` looks like a row id rather than a human name or version string. */
export function isUuid(value: string): boolean {
  return uuidSchema.safeParse(value).success;
}

export const groupNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'letters, digits, ".", "_" or "-", 1–63 characters');

export const instanceNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'letters, digits, ".", "_" or "-", 1–128 characters');

export const labelsSchema = z
  .record(
    z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$/, 'label keys: letters, digits, ".", "_", "/", "-"'),
    safeText({ max: 256 }),
  )
  .refine((l) => Object.keys(l).length <= 64, 'at most 64 labels');

export const regionSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and "-", e.g. eu-west-1');

export const peerNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'letters, digits, ".", "_" or "-", 1–63 characters');
