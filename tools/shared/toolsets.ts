// Toolsets: every tool belongs to exactly one, named for what users do. Clients load only the toolsets
// they need (--toolsets, FLOTILLA_TOOLSETS, the X-MCP-Toolsets header); test/tools/catalog.test.ts
// holds every tool to one entry here.

export const TOOLSET_NAMES = ['platform', 'fleet', 'rollouts', 'federation', 'federated', 'manifests'] as const;
export type Toolset = (typeof TOOLSET_NAMES)[number];

/** What each toolset is for, as `flotilla tools` and the instructions describe it. */
export const TOOLSET_PURPOSES: Record<Toolset, string> = {
  platform: 'the platform itself: its info, operators and recent events',
  fleet: 'instances, agents, enrollment, modules and their versions, drift',
  rollouts: 'rolling upgrades: skills, plans, approvals, intervention policies, rollout control, learnings',
  federation: 'peers: proposing, accepting, grants, identity bindings, residency, audit logs, peer reads',
  federated: 'changes across peers: federated rollouts, migration chains, federated deployments, placement',
  manifests: 'fleet manifests: diff and apply',
};

/** Tool name → its toolset. */
export const TOOLSET_OF: Readonly<Record<string, Toolset>> = {
  get_platform_info: 'platform',
  create_operator: 'platform',
  list_operators: 'platform',
  revoke_operator: 'platform',
  recent_events: 'platform',

  publish_module_version: 'fleet',
  promote_module_version: 'fleet',
  list_modules: 'fleet',
  list_module_versions: 'fleet',
  create_enrollment_token: 'fleet',
  revoke_enrollment_token: 'fleet',
  list_instances: 'fleet',
  get_instance: 'fleet',
  drift_report: 'fleet',
  assign_module_version: 'fleet',
  terminate_instance: 'fleet',
  agent_introspect: 'fleet',

  list_skills: 'rollouts',
  execute_skill: 'rollouts',
  list_intervention_policies: 'rollouts',
  set_intervention_policy: 'rollouts',
  list_approvals: 'rollouts',
  get_approval: 'rollouts',
  decide_approval: 'rollouts',
  list_rollouts: 'rollouts',
  get_rollout: 'rollouts',
  watch_rollout: 'rollouts',
  pause_rollout: 'rollouts',
  resume_rollout: 'rollouts',
  abort_rollout: 'rollouts',
  rollback_rollout: 'rollouts',
  create_learning: 'rollouts',
  search_learnings: 'rollouts',

  list_federation_peers: 'federation',
  list_federation_outbox: 'federation',
  propose_federation_peer: 'federation',
  accept_federation_peer: 'federation',
  revoke_federation_peer: 'federation',
  spawn_child_platform: 'federation',
  get_audit_log: 'federation',
  verify_audit_log: 'federation',
  list_refused_peer_requests: 'federation',
  list_federation_grants: 'federation',
  issue_federation_grant: 'federation',
  revoke_federation_grant: 'federation',
  create_peer_identity_binding: 'federation',
  list_peer_identity_bindings: 'federation',
  revoke_peer_identity_binding: 'federation',
  create_boundary_rule: 'federation',
  list_boundary_rules: 'federation',
  delete_boundary_rule: 'federation',
  set_data_residency: 'federation',
  get_data_residency: 'federation',
  override_data_residency: 'federation',
  set_federation_peer_region: 'federation',
  get_peer_inventory: 'federation',
  get_peer_module_versions: 'federation',
  get_federation_topology: 'federation',

  create_federated_rollout: 'federated',
  get_federated_rollout: 'federated',
  list_federated_rollouts: 'federated',
  control_federated_rollout: 'federated',
  start_migration_chain: 'federated',
  get_migration_chain: 'federated',
  list_migration_chains: 'federated',
  plan_placement: 'federated',
  create_federated_deployment: 'federated',
  get_federated_deployment: 'federated',
  update_federated_deployment: 'federated',
  list_federated_deployments: 'federated',
  delete_federated_deployment: 'federated',

  diff_manifest: 'manifests',
  apply_manifest: 'manifests',
};
