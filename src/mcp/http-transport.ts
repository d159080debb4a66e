// MCP Streamable HTTP for one request: stateless (a fresh server and transport per POST), so any
// replica can answer any request and no correctness depends on an MCP session.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { Caller } from '../domain/roles.js';
import { createMcpServer, type McpServerDeps } from './server.js';

/** True when a JSON-RPC request (or batch) carries a progress token. */
function wantsProgress(body: unknown): boolean {
  const messages = Array.isArray(body) ? body : [body];
  return messages.some((m) => {
    const meta = (m as { params?: { _meta?: { progressToken?: unknown } } } | null)?.params?._meta;
    return meta?.progressToken !== undefined;
  });
}

export type McpHttpDeps = Omit<McpServerDeps, 'resolveCaller'>;

/** Serves one authenticated MCP request for `caller`. */
export async function handleMcpHttp(
  req: IncomingMessage,
  res: ServerResponse,
  body: unknown,
  caller: Caller,
  deps: McpHttpDeps,
): Promise<void> {
  if (req.method !== 'POST') {
    // Stateless: no standalone GET stream to offer (it would stay open with nothing ever sent on it, and
    // keep the client's process alive), no session to DELETE. 405 tells an SDK client to go without.
    const text = JSON.stringify({
      jsonrpc: '2.0',
      id: null,
      error: {
        code: -32000,
        message: `${req.method ?? 'this method'} is not allowed: this server is stateless, POST only`,
      },
    });
    res.writeHead(405, {
      allow: 'POST',
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
    return;
  }
  const server = createMcpServer({ ...deps, resolveCaller: () => Promise.resolve(caller) });
  // A plain JSON answer is cheapest; a request that asked for progress gets an SSE stream so its
  // progress notifications can travel before the result.
  const transport = new StreamableHTTPServerTransport({
    sessionIdGenerator: undefined,
    enableJsonResponse: !wantsProgress(body),
  });
  res.on('close', () => {
    void transport.close();
    void server.close();
  });
  await server.connect(transport);
  await transport.handleRequest(req, res, body);
}
