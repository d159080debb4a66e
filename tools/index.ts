// The tool catalog: every MCP tool Flotilla serves, one file each, file name = tool name in kebab-case.
import type { AnyTool } from '../src/mcp/define-tool.js';
import assignModuleVersion from './assign-module-version.js';
import createEnrollmentToken from './create-enrollment-token.js';
import createOperator from './create-operator.js';
import driftReport from './drift-report.js';
import getInstance from './get-instance.js';
import listInstances from './list-instances.js';
import revokeEnrollmentToken from './revoke-enrollment-token.js';
import terminateInstance from './terminate-instance.js';
import getPlatformInfo from './get-platform-info.js';
import listModuleVersions from './list-module-versions.js';
import listModules from './list-modules.js';
import listOperators from './list-operators.js';
import promoteModuleVersion from './promote-module-version.js';
import publishModuleVersion from './publish-module-version.js';
import recentEvents from './recent-events.js';
import revokeOperator from './revoke-operator.js';
import abortRollout from './abort-rollout.js';
import agentIntrospect from './agent-introspect.js';
import createLearning from './create-learning.js';
import decideApproval from './decide-approval.js';
import executeSkill from './execute-skill.js';
import getApproval from './get-approval.js';
import getRollout from './get-rollout.js';
import listApprovals from './list-approvals.js';
import listInterventionPolicies from './list-intervention-policies.js';
import listRollouts from './list-rollouts.js';
import listSkills from './list-skills.js';
import pauseRollout from './pause-rollout.js';
import resumeRollout from './resume-rollout.js';
import rollbackRollout from './rollback-rollout.js';
import searchLearnings from './search-learnings.js';
import setInterventionPolicy from './set-intervention-policy.js';
import watchRollout from './watch-rollout.js';
import proposeFederationPeer from './propose-federation-peer.js';
import acceptFederationPeer from './accept-federation-peer.js';
import listFederationOutbox from './list-federation-outbox.js';
import listFederationPeers from './list-federation-peers.js';
import revokeFederationPeer from './revoke-federation-peer.js';
import spawnChildPlatform from './spawn-child-platform.js';
import getAuditLog from './get-audit-log.js';
import verifyAuditLog from './verify-audit-log.js';
import listRefusedPeerRequests from './list-refused-peer-requests.js';
import listFederationGrants from './list-federation-grants.js';
import issueFederationGrant from './issue-federation-grant.js';
import revokeFederationGrant from './revoke-federation-grant.js';
import createPeerIdentityBinding from './create-peer-identity-binding.js';
import listPeerIdentityBindings from './list-peer-identity-bindings.js';
import revokePeerIdentityBinding from './revoke-peer-identity-binding.js';
import createBoundaryRule from './create-boundary-rule.js';
import listBoundaryRules from './list-boundary-rules.js';
import deleteBoundaryRule from './delete-boundary-rule.js';
import setDataResidency from './set-data-residency.js';
import getDataResidency from './get-data-residency.js';
import overrideDataResidency from './override-data-residency.js';
import setFederationPeerRegion from './set-federation-peer-region.js';
import getPeerInventory from './get-peer-inventory.js';
import getPeerModuleVersions from './get-peer-module-versions.js';
import getFederationTopology from './get-federation-topology.js';
import createFederatedRollout from './create-federated-rollout.js';
import getFederatedRollout from './get-federated-rollout.js';
import listFederatedRollouts from './list-federated-rollouts.js';
import startMigrationChain from './start-migration-chain.js';
import getMigrationChain from './get-migration-chain.js';
import listMigrationChains from './list-migration-chains.js';
import controlFederatedRollout from './control-federated-rollout.js';
import planPlacement from './plan-placement.js';
import createFederatedDeployment from './create-federated-deployment.js';
import getFederatedDeployment from './get-federated-deployment.js';
import updateFederatedDeployment from './update-federated-deployment.js';
import listFederatedDeployments from './list-federated-deployments.js';
import deleteFederatedDeployment from './delete-federated-deployment.js';
import diffManifest from './diff-manifest.js';
import applyManifest from './apply-manifest.js';

export const TOOLS: readonly AnyTool[] = [
  getPlatformInfo,
  createOperator,
  listOperators,
  revokeOperator,
  publishModuleVersion,
  promoteModuleVersion,
  listModules,
  listModuleVersions,
  recentEvents,
  createEnrollmentToken,
  revokeEnrollmentToken,
  listInstances,
  getInstance,
  driftReport,
  assignModuleVersion,
  terminateInstance,
  listSkills,
  executeSkill,
  listInterventionPolicies,
  setInterventionPolicy,
  agentIntrospect,
  listApprovals,
  getApproval,
  decideApproval,
  listRollouts,
  getRollout,
  watchRollout,
  pauseRollout,
  resumeRollout,
  abortRollout,
  rollbackRollout,
  createLearning,
  searchLearnings,
  listFederationPeers,
  listFederationOutbox,
  proposeFederationPeer,
  acceptFederationPeer,
  revokeFederationPeer,
  spawnChildPlatform,
  getAuditLog,
  verifyAuditLog,
  listRefusedPeerRequests,
  listFederationGrants,
  issueFederationGrant,
  revokeFederationGrant,
  createPeerIdentityBinding,
  listPeerIdentityBindings,
  revokePeerIdentityBinding,
  createBoundaryRule,
  listBoundaryRules,
  deleteBoundaryRule,
  setDataResidency,
  getDataResidency,
  overrideDataResidency,
  setFederationPeerRegion,
  getPeerInventory,
  getPeerModuleVersions,
  getFederationTopology,
  createFederatedRollout,
  getFederatedRollout,
  listFederatedRollouts,
  startMigrationChain,
  getMigrationChain,
  listMigrationChains,
  controlFederatedRollout,
  planPlacement,
  createFederatedDeployment,
  getFederatedDeployment,
  updateFederatedDeployment,
  listFederatedDeployments,
  deleteFederatedDeployment,
  diffManifest,
  applyManifest,
];
