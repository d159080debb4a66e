// MCP Streamable HTTP for one request: stateless (a fresh server and transport per POST), so any
// replica can answer any request and no correctness depends on an MCP session.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { Caller } from '../domain/roles.js';
import { createMcpServer, type McpServerDeps } from './server.js';

export type McpHttpDeps = Omit<McpServerDeps, 'resolveCaller'>;

/** Serves one authenticated MCP request for `caller`. */
export async function handleMcpHttp(
  req: IncomingMessage,
  res: ServerResponse,
  body: unknown,
  caller: Caller,
  deps: McpHttpDeps,
): Promise<void> {
  const server = createMcpServer({ ...deps, resolveCaller: () => Promise.resolve(caller) });
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  res.on('close', () => {
    void transport.close();
    void server.close();
  });
  await server.connect(transport);
  await transport.handleRequest(req, res, body);
}
