// The services a tool or HTTP handler may call, gathered for injection.
import type { EventsService } from './events-service.js';
import type { FleetService } from './fleet-service.js';
import type { ModulesService } from './modules-service.js';
import type { OperatorsService } from './operators-service.js';
import type { PlatformService } from './platform-service.js';

export interface Services {
  operators: OperatorsService;
  modules: ModulesService;
  events: EventsService;
  platform: PlatformService;
  fleet: FleetService;
}
