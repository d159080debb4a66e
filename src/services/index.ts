// The services a tool or HTTP handler may call, gathered for injection.
import type { ApprovalsService } from './approvals-service.js';
import type { AuditService } from './audit-service.js';
import type { EventsService } from './events-service.js';
import type { FederationService } from './federation-service.js';
import type { BoundaryService } from './boundary-service.js';
import type { GrantsService } from './grants-service.js';
import type { PeerIdentityService } from './peer-identity-service.js';
import type { LearningsService } from './learnings-service.js';
import type { PoliciesService } from './policies-service.js';
import type { RolloutsService } from './rollouts-service.js';
import type { SkillsService } from './skills-service.js';
import type { FleetService } from './fleet-service.js';
import type { ModulesService } from './modules-service.js';
import type { OperatorsService } from './operators-service.js';
import type { PlatformService } from './platform-service.js';
import type { ClusterService } from './cluster-service.js';
import type { SpawnService } from './spawn-service.js';
import type { ResidencyService } from './residency-service.js';
import type { PeerReads } from './peer-reads.js';
import type { FederatedDeploymentsService } from './federated-deployments-service.js';
import type { FederatedLegsService } from './federated-legs-service.js';
import type { FederatedRolloutsService } from './federated-rollouts-service.js';
import type { PlacementService } from './placement-service.js';
import type { MigrationChainsService } from './migration-chains-service.js';
import type { ManifestService } from './manifest-service.js';

export interface Services {
  operators: OperatorsService;
  modules: ModulesService;
  events: EventsService;
  platform: PlatformService;
  fleet: FleetService;
  policies: PoliciesService;
  approvals: ApprovalsService;
  rollouts: RolloutsService;
  learnings: LearningsService;
  skills: SkillsService;
  audit: AuditService;
  federation: FederationService;
  spawn: SpawnService;
  cluster: ClusterService;
  grants: GrantsService;
  /** Which local operator each peer's named operator acts as: bind, list, revoke (admin). */
  peerIdentities: PeerIdentityService;
  boundary: BoundaryService;
  residency: ResidencyService;
  peerReads: PeerReads;
  /** The target side of federated rollouts: the leg operations peers call. */
  federatedLegs: FederatedLegsService;
  /** The origin side of federated rollouts: create, view, control; coordinates the legs. */
  federatedRollouts: FederatedRolloutsService;
  /** Federated deployments created here: versions placed over peers by share, reconciled each tick. */
  federatedDeployments: FederatedDeploymentsService;
  /** Multi-hop migration chains: started here, or passing through on their way down a path. */
  migrationChains: MigrationChainsService;
  /** Placement of replicas over peers: the dry run, and the plans federated deployments follow. */
  placement: PlacementService;
  /** Declarative management: diff and apply fleet manifests through the services above. */
  manifests: ManifestService;
}
