// accept_federation_peer: the child side of an out-of-band peering: redeem the parent's token, activate.
import { z } from 'zod';
import { safeText } from '../src/domain/text.js';
import { defineTool } from '../src/mcp/define-tool.js';
import { federationPeerView, toPeerView } from './shared/federation-views.js';

export default defineTool({
  name: 'accept_federation_peer',
  title: 'Accept federation peer',
  description:
    'Accepts a peering proposed by another platform: redeems its acceptance_token at parent_url, records the parent and activates with a signed call, so both sides show the peer active.',
  role: 'admin',
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  input: {
    parent_url: z.url({ protocol: /^https?$/ }).describe('URL of the platform that proposed the peering'),
    acceptance_token: safeText({ min: 1, max: 200 }).describe('the fpa_… token propose_federation_peer returned there'),
  },
  output: { federation_peer: federationPeerView },
  handler: async ({ services, caller }, input) => ({
    federation_peer: toPeerView(
      await services.federation.acceptFromParent(caller, {
        parentUrl: input.parent_url,
        acceptanceToken: input.acceptance_token,
      }),
    ),
  }),
});
