/** Placeholder type until failed request tracing lands: decides per finished request whether to keep a trace. */
import type { RequestEnd } from '../proxy/handler.js';
import type { RequestRecord } from './request-record.js';

export interface SiteTracer {
  consider(record: RequestRecord, end: RequestEnd): void;
}
