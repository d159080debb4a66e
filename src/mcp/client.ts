// An MCP client over Streamable HTTP for the CLI (and tests): carries an operator token.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

export interface ToolCallResult {
  isError: boolean;
  structured: unknown;
  text: string;
}

export interface FlotillaClient {
  listTools(): Promise<Array<{ name: string; description?: string | undefined }>>;
  callTool(
    name: string,
    args: Record<string, unknown>,
    options?: { onProgress?: (progress: number, total: number | undefined, message: string | undefined) => void },
  ): Promise<ToolCallResult>;
  close(): Promise<void>;
}

/** Drops the transport's shared abort signal: one signal across thousands of requests leaks listeners. */
const perRequestFetch: typeof fetch = (input, init) => {
  const { signal: _shared, ...rest } = init ?? {};
  return fetch(input, rest);
};

export async function connectHttpClient(url: string, token: string): Promise<FlotillaClient> {
  const client = new Client({ name: 'flotilla-cli', version: '0.1.0' });
  const transport = new StreamableHTTPClientTransport(new URL('/mcp', url), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
    fetch: perRequestFetch,
  });
  await client.connect(transport);
  return {
    async listTools() {
      return (await client.listTools()).tools;
    },
    async callTool(name, args, options) {
      const onProgress = options?.onProgress;
      const result = await client.callTool(
        { name, arguments: args },
        undefined,
        onProgress === undefined
          ? undefined
          : { timeout: 60_000, onprogress: (p) => onProgress(p.progress, p.total, p.message) },
      );
      const content = (result.content ?? []) as Array<{ type: string; text?: string }>;
      return {
        isError: result.isError === true,
        structured: result.structuredContent ?? null,
        text: content
          .filter((c) => c.type === 'text')
          .map((c) => c.text ?? '')
          .join('\n'),
      };
    },
    close: () => client.close(),
  };
}
