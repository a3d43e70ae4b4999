/** Every route of the admin API, by area (each area's file holds its routes and schemas). */
import type { Route } from '../route.js';
import { AUDIT_ROUTES } from './audit.js';
import { CERTIFICATE_ROUTES } from './certificates.js';
import { CLIENT_CERTIFICATE_ROUTES } from './client-certificates.js';
import { CONFIG_ROUTES } from './config.js';
import { EVENT_ROUTES } from './events.js';
import { FARM_CONFIG_ROUTES } from './farm-config.js';
import { FARM_ROUTES } from './farms.js';
import { SITE_ROUTES } from './sites.js';
import { STATUS_ROUTES } from './status.js';
import { TRACE_ROUTES } from './traces.js';
import { WHOAMI_ROUTES } from './whoami.js';

export const ROUTES: readonly Route[] = [...STATUS_ROUTES, ...WHOAMI_ROUTES, ...CONFIG_ROUTES, ...SITE_ROUTES, ...FARM_ROUTES, ...FARM_CONFIG_ROUTES, ...CERTIFICATE_ROUTES, ...CLIENT_CERTIFICATE_ROUTES, ...TRACE_ROUTES, ...EVENT_ROUTES, ...AUDIT_ROUTES];
