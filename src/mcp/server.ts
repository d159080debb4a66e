// The one module that builds an SDK server: tools/list, tools/call, resources, prompts and completion handlers
// over our own tool definitions. Porting to SDK v2 is a change here and in http-transport.ts only.
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  CompleteRequestSchema,
  ErrorCode,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  type CallToolResult,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { z } from 'zod';
import type { Logger } from 'pino';
import type { Caller } from '../domain/roles.js';
import type { Services } from '../services/index.js';
import type { AnyTool, ToolContext } from './define-tool.js';
import { completeApprovalId, getPrompt, PROMPTS } from './prompts.js';
import { readResource, RESOURCE_TEMPLATES, STATIC_RESOURCES } from './resources.js';
import { runTool, strictInput, strictOutput, toOutcomeError } from './tool-runner.js';

export const SERVER_NAME = 'flotilla';
export const SERVER_VERSION = '0.1.0';

/** How the server learns who is calling: from HTTP auth, or the fixed stdio operator. */
export type CallerResolver = (authInfo: AuthInfo | undefined) => Promise<Caller>;

export interface McpServerDeps {
  tools: readonly AnyTool[];
  services: Services;
  logger: Logger;
  resolveCaller: CallerResolver;
}

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Tool['inputSchema'] {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return rest as Tool['inputSchema'];
}

const listings = new WeakMap<readonly AnyTool[], Tool[]>();

/** The tools/list answer, computed once per catalog. */
export function listTools(tools: readonly AnyTool[]): Tool[] {
  let listed = listings.get(tools);
  if (listed === undefined) {
    listed = tools.map((tool) => ({
      name: tool.name,
      title: tool.title,
      description: `${tool.description} Requires role: ${tool.role}.`,
      inputSchema: jsonSchema(strictInput(tool), 'input'),
      outputSchema: jsonSchema(strictOutput(tool), 'output'),
      annotations: { title: tool.title, ...tool.annotations },
    }));
    listings.set(tools, listed);
  }
  return listed;
}

/** Longest text mirror of a result; structuredContent always carries the whole result. */
export const TEXT_MIRROR_MAX_CHARS = 4000;

/** The result as JSON text for clients that read only text, cut short (and saying so) when long. */
export function textMirror(output: Record<string, unknown>): string {
  const json = JSON.stringify(output);
  if (json.length <= TEXT_MIRROR_MAX_CHARS) return json;
  return `${json.slice(0, TEXT_MIRROR_MAX_CHARS)}… [${json.length} characters in all: the full result is in structuredContent]`;
}

/** A tool error as MCP content: a readable line, then the error as JSON for programs. */
function errorResult(error: { code: string; message: string; hint?: string }): CallToolResult {
  const line = `${error.code}: ${error.message}${error.hint === undefined ? '' : ` — next: ${error.hint}`}`;
  return {
    isError: true,
    content: [
      { type: 'text', text: line },
      { type: 'text', text: JSON.stringify({ error }) },
    ],
  };
}

export function createMcpServer(deps: McpServerDeps): Server {
  const server = new Server(
    { name: SERVER_NAME, version: SERVER_VERSION, title: 'Flotilla fleet control plane' },
    {
      capabilities: { tools: {}, logging: {}, resources: {}, prompts: {}, completions: {} },
      instructions:
        'Flotilla is a fleet control plane. Every tool says the role it needs and its side effects. ' +
        'Errors carry a code, a message and what to do next. List tools page with limit and cursor.',
    },
  );
  const byName = new Map(deps.tools.map((t) => [t.name, t]));

  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: listTools(deps.tools) }));

  server.setRequestHandler(CallToolRequestSchema, async (request, extra): Promise<CallToolResult> => {
    const tool = byName.get(request.params.name);
    if (tool === undefined) {
      return errorResult({
        code: 'not_found',
        message: `no tool named ${request.params.name}`,
        hint: 'tools/list shows the available tools',
      });
    }
    let caller: Caller;
    try {
      caller = await deps.resolveCaller(extra.authInfo);
    } catch (err) {
      return errorResult(toOutcomeError(err, deps.logger, tool.name));
    }
    const progressToken = request.params._meta?.progressToken;
    const progress: ToolContext['progress'] =
      progressToken === undefined
        ? undefined
        : (done, total, message) =>
            extra.sendNotification({
              method: 'notifications/progress',
              params: { progressToken, progress: done, ...(total === undefined ? {} : { total }), message },
            });
    const elicit: ToolContext['elicit'] =
      server.getClientCapabilities()?.elicitation?.form === undefined
        ? undefined
        : async (message, fields, required) => {
            const answer = await server.elicitInput(
              { mode: 'form', message, requestedSchema: { type: 'object', properties: fields, required } },
              { relatedRequestId: extra.requestId, signal: extra.signal },
            );
            return answer.action === 'accept'
              ? { action: 'accept', content: (answer.content ?? {}) as Record<string, unknown> }
              : { action: answer.action };
          };
    const outcome = await runTool(tool, request.params.arguments, {
      services: deps.services,
      caller,
      logger: deps.logger,
      signal: extra.signal,
      ...(progress === undefined ? {} : { progress }),
      ...(elicit === undefined ? {} : { elicit }),
    });
    if (!outcome.ok) return errorResult(outcome.error);
    return { content: [{ type: 'text', text: textMirror(outcome.output) }], structuredContent: outcome.output };
  });

  server.setRequestHandler(ListResourcesRequestSchema, () => ({ resources: STATIC_RESOURCES }));
  server.setRequestHandler(ListResourceTemplatesRequestSchema, () => ({ resourceTemplates: RESOURCE_TEMPLATES }));
  /** Runs a non-tool request as the caller; a caller's mistake is InvalidParams, anything else InternalError. */
  const asCaller = async <T>(what: string, authInfo: AuthInfo | undefined, run: (c: Caller) => Promise<T>) => {
    try {
      return await run(await deps.resolveCaller(authInfo));
    } catch (err) {
      const error = toOutcomeError(err, deps.logger, what);
      const mine = error.code === 'not_found' || error.code === 'invalid_input';
      const next = error.hint === undefined ? '' : ` — next: ${error.hint}`;
      throw new McpError(
        mine ? ErrorCode.InvalidParams : ErrorCode.InternalError,
        `${error.code}: ${error.message}${next}`,
      );
    }
  };

  server.setRequestHandler(ReadResourceRequestSchema, (request, extra) =>
    asCaller('resources/read', extra.authInfo, async (caller) => {
      const body = await readResource(request.params.uri, deps.services, caller);
      return { contents: [{ uri: request.params.uri, mimeType: 'application/json', text: JSON.stringify(body) }] };
    }),
  );

  server.setRequestHandler(ListPromptsRequestSchema, () => ({ prompts: PROMPTS }));
  server.setRequestHandler(GetPromptRequestSchema, (request, extra) =>
    asCaller('prompts/get', extra.authInfo, () =>
      getPrompt(request.params.name, request.params.arguments, deps.services),
    ),
  );
  server.setRequestHandler(CompleteRequestSchema, (request, extra) =>
    asCaller('completion/complete', extra.authInfo, async () => {
      const { ref, argument } = request.params;
      const completion =
        ref.type === 'ref/prompt'
          ? await completeApprovalId(ref.name, argument.name, argument.value, deps.services)
          : { values: [], total: 0, hasMore: false };
      return { completion };
    }),
  );

  return server;
}
