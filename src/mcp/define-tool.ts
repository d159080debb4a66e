// The shape of an MCP tool: plain data plus a handler. Tools never import the SDK; this module and
// server.ts are the only places that know MCP exists.
import type { z } from 'zod';
import type { Logger } from 'pino';
import type { Caller, Role } from '../domain/roles.js';
import type { Services } from '../services/index.js';

export interface ToolAnnotations {
  readOnlyHint: boolean;
  destructiveHint: boolean;
  idempotentHint: boolean;
  openWorldHint: boolean;
}

export interface ToolContext {
  services: Services;
  caller: Caller;
  logger: Logger;
  /** Aborted when the client cancels the call or disconnects. */
  signal?: AbortSignal;
  /** Sends an MCP progress notification when the caller asked for progress (gave a progress token). */
  progress?: (progress: number, total: number | undefined, message: string) => Promise<void>;
  /**
   * Asks the human in the client to fill a small form (MCP form elicitation). Present only when the
   * client declared form elicitation on this session (stdio, in-memory); an answer counts as the caller.
   */
  elicit?: (message: string, fields: Record<string, ElicitField>, required: string[]) => Promise<ElicitAnswer>;
}

/** One field of an elicitation form: a string, optionally from a fixed list. */
export interface ElicitField {
  type: 'string';
  title: string;
  description: string;
  enum?: string[];
}

export type ElicitAnswer = { action: 'accept'; content: Record<string, unknown> } | { action: 'decline' | 'cancel' };

export interface ToolDefinition<I extends z.ZodRawShape = z.ZodRawShape, O extends z.ZodRawShape = z.ZodRawShape> {
  name: string;
  title: string;
  /** One sentence that says what the tool does and its side effects. */
  description: string;
  /** The least role a caller needs. */
  role: Role;
  annotations: ToolAnnotations;
  input: I;
  output: O;
  handler(ctx: ToolContext, input: z.infer<z.ZodObject<I>>): Promise<z.infer<z.ZodObject<O>>>;
}

/** Identity helper that keeps the input and output types of a tool tied to its schemas. */
export function defineTool<I extends z.ZodRawShape, O extends z.ZodRawShape>(
  def: ToolDefinition<I, O>,
): ToolDefinition<I, O> {
  return def;
}

/** Any tool, for catalogs. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyTool = ToolDefinition<any, any>;
