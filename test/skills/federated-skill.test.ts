// The federated-rollout skill run step by step against two real platforms federated over loopback HTTP
// (origin proposes, east accepts, east binds origin's `lead` to its own `lead`), through a real SDK client
// over HTTP as origin's `lead`. Between tries of a waiting step both fleets heartbeat and both platforms
// tick. One run pauses and resumes the legs and completes; another aborts them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROLLING_UPGRADE_ACTION } from '../../src/domain/approvals.js';
import type { FlotillaClient } from '../../src/mcp/client.js';
import { startTestPlatform, type TestPlatform } from '../helpers/app.js';
import { bindPeerOperator, federatePair } from '../helpers/federation.js';
import { FleetScenario, makeCrew, tick, type Crew } from '../helpers/rollouts.js';
import { readSkills } from '../helpers/skill-files.js';
import { runSkill } from '../helpers/skill-runner.js';
import { STORE_KINDS } from '../helpers/store.js';

interface Site {
  p: TestPlatform;
  crew: Crew;
  /** The admin `lead` every platform has: the user's session on origin, bound by that name on east. */
  leadToken: string;
}

describe.each(STORE_KINDS)('federated-rollout skill on %s', (kind) => {
  let origin: Site;
  let east: Site;
  let lead: FlotillaClient;
  const fleets: FleetScenario[] = [];
  const skill = readSkills().find((s) => s.folder === 'federated-rollout')!;

  async function site(name: string): Promise<Site> {
    const p = await startTestPlatform(kind, {}, { name });
    const crew = await makeCrew(p);
    const leadToken = await p.operator('lead', 'admin');
    // Legs run under each platform's own policy; approvals on a peer are that peer's business.
    await p.app.services.policies.set(crew.admin, { action: ROLLING_UPGRADE_ACTION, mode: 'auto', fourEyes: false });
    return { p, crew, leadToken };
  }

  beforeAll(async () => {
    origin = await site('origin');
    east = await site('east');
    const peering = await federatePair(origin.p, east.p, { name: 'east' });
    await bindPeerOperator(east.p, peering.onB.id, 'lead');
    lead = await origin.p.httpClient(origin.leadToken);
  }, 180_000); // two platforms starting on a busy shared machine
  afterAll(async () => {
    await origin?.p.close();
    await east?.p.close();
  });

  /** Both fleets heartbeat and both platforms tick until the federated rollouts settle (25 rounds at most). */
  async function settle(): Promise<void> {
    for (let i = 0; i < 25; i++) {
      const moving = await origin.p.store.db
        .selectFrom('federated_rollouts')
        .select('id')
        .where('state', 'in', ['running', 'rolling_back', 'aborting'])
        .execute();
      if (moving.length === 0) return;
      for (const f of fleets) await f.beat();
      await tick(origin.p);
      await tick(east.p);
    }
  }

  async function fleets2(name: string): Promise<{ module: string; group: string }> {
    for (const s of [origin, east]) fleets.push(await FleetScenario.create(s.p, s.crew, name, 4));
    return { module: `mod-${name}`, group: `group-${name}` };
  }

  it.each([
    ['pause', 'completed'],
    ['abort', 'aborted'],
  ] as const)(
    'control %s: the rollout ends %s on every leg',
    async (control, final) => {
      const { module, group } = await fleets2(`fed-${control}`);
      const done = await runSkill(skill, {
        clients: { me: lead },
        inputs: { peer: 'east', include_local: true, group, module_name: module, target_version: '1.26.0', control },
        wait: settle,
      });
      expect(done.vars.final_state).toBe(final);
      expect(done.steps.filter((s) => s.skipped).length).toBe(control === 'pause' ? 2 : 3);
      // The first control call held this platform's running leg at once.
      const first = done.steps.find((s) => s.tool === 'control_federated_rollout' && !s.skipped);
      expect((first?.result as { legs: Array<{ peer_name: string; outcome: string }> }).legs).toContainEqual(
        expect.objectContaining({ peer_name: 'origin', outcome: 'applied' }),
      );
      const res = await lead.callTool('get_federated_rollout', {
        federated_rollout_id: done.vars.federated_rollout_id,
      });
      const legs = (res.structured as { federated_rollout: { legs: Array<{ peer_name: string; state: string }> } })
        .federated_rollout.legs;
      expect(legs.map((l) => [l.peer_name, l.state]).sort()).toEqual([
        ['east', final],
        ['origin', final],
      ]);
    },
    120_000,
  );
});
