// A tool that does nothing but echo: the floor of an MCP round trip (transport, JSON-RPC, role check,
// strict input and output parsing) with no service or store work. Benchmarks only: passed to
// createApp through overrides.extraTools, never listed in tools/index.ts.
import { z } from 'zod';
import { defineTool } from '../src/mcp/define-tool.js';

export default defineTool({
  name: 'bench_echo',
  title: 'Echo (benchmark)',
  description: 'Returns its message unchanged; benchmarks use it to measure the bare MCP round trip; reads nothing.',
  role: 'viewer',
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  input: { message: z.string().max(1000).describe('any text, returned as is') },
  output: { message: z.string() },
  handler: async (_ctx, input) => ({ message: input.message }),
});
