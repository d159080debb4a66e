// Runs one tool call: role check, strict input parsing, the handler, output checking, error mapping.
// Independent of the SDK, so it is tested and benchmarked directly.
import { z } from 'zod';
import type { Logger } from 'pino';
import { roleAllows } from '../domain/roles.js';
import { unstorableValueReason } from '../domain/text.js';
import {
  FlotillaError,
  ForbiddenError,
  InvalidInputError,
  UnavailableError,
  toPublicError,
  type PublicError,
} from '../errors.js';
import { dataErrorReason, isConnectionError, isDataError } from '../store/errors.js';
import type { AnyTool, ToolContext } from './define-tool.js';

export type ToolOutcome = { ok: true; output: Record<string, unknown> } | { ok: false; error: PublicError };

/** Explains a zod failure in one line per problem, naming the field. */
export function describeInputIssues(error: z.ZodError, accepted: string[]): string {
  return error.issues
    .map((issue) => {
      if (issue.code === 'unrecognized_keys') {
        return `unknown field ${issue.keys.map((k) => `"${k}"`).join(', ')} (this tool accepts: ${accepted.join(', ')})`;
      }
      const where = issue.path.length === 0 ? 'input' : issue.path.join('.');
      return `${where}: ${issue.message}`;
    })
    .join('; ');
}

const inputSchemas = new WeakMap<AnyTool, z.ZodObject>();
const outputSchemas = new WeakMap<AnyTool, z.ZodObject>();

export function strictInput(tool: AnyTool): z.ZodObject {
  let schema = inputSchemas.get(tool);
  if (schema === undefined) inputSchemas.set(tool, (schema = z.strictObject(tool.input)));
  return schema;
}

export function strictOutput(tool: AnyTool): z.ZodObject {
  let schema = outputSchemas.get(tool);
  if (schema === undefined) outputSchemas.set(tool, (schema = z.strictObject(tool.output)));
  return schema;
}

/** A store data error (SQLSTATE class 22) as the invalid input it is, without the driver's words. */
export function dataErrorAsInvalidInput(err: unknown): InvalidInputError {
  return new InvalidInputError(`a value cannot be stored: ${dataErrorReason(err)}`, {
    hint: 'check the values sent (text without NUL characters, numbers and dates in range) and call again',
  });
}

/** Maps anything thrown to what a caller may see; unknown errors are logged with their stack. */
export function toOutcomeError(err: unknown, logger: Logger, toolName: string): PublicError {
  if (err instanceof FlotillaError) return toPublicError(err);
  if (isDataError(err)) {
    logger.warn({ tool: toolName, err: { message: (err as Error).message } }, 'store refused a value of a tool call');
    return toPublicError(dataErrorAsInvalidInput(err));
  }
  if (isConnectionError(err)) {
    logger.warn({ tool: toolName, err: { message: (err as Error).message } }, 'store unavailable during tool call');
    return toPublicError(
      new UnavailableError('the store is unreachable right now', {
        hint: 'retry in a few seconds; nothing was changed',
      }),
    );
  }
  logger.error({ err, tool: toolName }, 'tool failed with an unexpected error');
  return {
    code: 'internal',
    message: 'internal error; it has been logged',
    hint: 'retry, and report it if it persists',
  };
}

export async function runTool(
  tool: AnyTool,
  rawInput: unknown,
  ctx: Omit<ToolContext, 'logger'> & { logger: Logger },
): Promise<ToolOutcome> {
  const logger = ctx.logger.child({ tool: tool.name, operator: ctx.caller.name });
  try {
    if (!roleAllows(ctx.caller.role, tool.role)) {
      throw new ForbiddenError(
        `${tool.name} needs the ${tool.role} role; operator ${ctx.caller.name} is ${ctx.caller.role}`,
        {
          hint: `ask an admin for an operator with the ${tool.role} role`,
          details: { required_role: tool.role, caller_role: ctx.caller.role },
        },
      );
    }
    const parsed = strictInput(tool).safeParse(rawInput ?? {});
    if (!parsed.success) {
      throw new InvalidInputError(describeInputIssues(parsed.error, Object.keys(tool.input)), {
        hint: 'fix the named fields and call again; nothing was changed',
      });
    }
    const unstorable = unstorableValueReason(parsed.data);
    if (unstorable !== null) {
      throw new InvalidInputError(unstorable, { hint: 'fix the named field and call again; nothing was changed' });
    }
    const output = (await tool.handler({ ...ctx, logger }, parsed.data)) as unknown;
    const checked = strictOutput(tool).safeParse(output);
    if (!checked.success) {
      throw new Error(`${tool.name} produced output outside its schema: ${checked.error.message}`);
    }
    return { ok: true, output: checked.data };
  } catch (err) {
    return { ok: false, error: toOutcomeError(err, logger, tool.name) };
  }
}
