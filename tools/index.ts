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
];
