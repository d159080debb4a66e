// set_data_residency: pins resource kinds to a region for what this platform sends one peer (seed Step 4).
import { defineTool } from '../src/mcp/define-tool.js';
import {
  federationPeerIdInput,
  residencyOutput,
  residencyPolicyInput,
  residencyPolicyView,
  toResidencyOutput,
} from './shared/federation-views.js';

export default defineTool({
  name: 'set_data_residency',
  title: 'Set data residency',
  description:
    "Replaces a federation peer's data residency policy (null clears it) so resources of the listed kinds go to that peer only while it is in the region, refusing other calls with data_residency_violation, and audits the change on the peer's log (data_residency.set or data_residency.cleared).",
  role: 'admin',
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  input: {
    federation_peer_id: federationPeerIdInput,
    policy: residencyPolicyInput
      .nullable()
      .describe(
        '{ resource_kinds: ["secrets", "credentials"], constraint: "must_not_leave_region", region: "eu-west-1" }, or null to clear',
      ),
  },
  output: {
    ...residencyOutput,
    previous_policy: residencyPolicyView.nullable().describe('the policy this call replaced or cleared'),
  },
  handler: async ({ services, caller }, input) => {
    const { state, previous } = await services.residency.set(caller, input.federation_peer_id, input.policy);
    return { ...toResidencyOutput(state), previous_policy: previous };
  },
});
