/** Every route of the admin API, by area (each area's file holds its routes and schemas). */
import type { Route } from '../route.js';
import { AUDIT_ROUTES } from './audit.js';
import { CERTIFICATE_ROUTES } from './certificates.js';
import { CLIENT_CERTIFICATE_ROUTES } from './client-certificates.js';
import { EVENT_ROUTES } from './events.js';
import { FARM_ROUTES } from './farms.js';
import { STATUS_ROUTES } from './status.js';
import { TRACE_ROUTES } from './traces.js';

export const ROUTES: readonly Route[] = [...STATUS_ROUTES, ...FARM_ROUTES, ...AUDIT_ROUTES, ...EVENT_ROUTES, ...TRACE_ROUTES, ...CERTIFICATE_ROUTES, ...CLIENT_CERTIFICATE_ROUTES];
