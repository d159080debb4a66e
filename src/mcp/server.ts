// The one module that builds an SDK server: tools/list, tools/call, resources and prompts handlers
// over our own tool definitions. Porting to SDK v2 is a change here and in http-transport.ts only.
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
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
import { FlotillaError } from '../errors.js';
import type { Services } from '../services/index.js';
import type { AnyTool } from './define-tool.js';
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
      capabilities: { tools: {}, logging: {}, resources: {}, prompts: {} },
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
    const outcome = await runTool(tool, request.params.arguments, {
      services: deps.services,
      caller,
      logger: deps.logger,
    });
    if (!outcome.ok) return errorResult(outcome.error);
    return { content: [{ type: 'text', text: JSON.stringify(outcome.output) }], structuredContent: outcome.output };
  });

  server.setRequestHandler(ListResourcesRequestSchema, () => ({ resources: STATIC_RESOURCES }));
  server.setRequestHandler(ListResourceTemplatesRequestSchema, () => ({ resourceTemplates: RESOURCE_TEMPLATES }));
  server.setRequestHandler(ReadResourceRequestSchema, async (request, extra) => {
    try {
      const caller = await deps.resolveCaller(extra.authInfo);
      const body = await readResource(request.params.uri, deps.services, caller);
      return { contents: [{ uri: request.params.uri, mimeType: 'application/json', text: JSON.stringify(body) }] };
    } catch (err) {
      const error = toOutcomeError(err, deps.logger, 'resources/read');
      const code =
        err instanceof FlotillaError && err.code === 'not_found' ? ErrorCode.InvalidParams : ErrorCode.InternalError;
      throw new McpError(code, `${error.code}: ${error.message}`);
    }
  });

  server.setRequestHandler(ListPromptsRequestSchema, () => ({ prompts: [] }));
  server.setRequestHandler(GetPromptRequestSchema, (request) => {
    throw new McpError(ErrorCode.InvalidParams, `no prompt named ${request.params.name}`);
  });

  return server;
}
