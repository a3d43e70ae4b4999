/**
 * Failed request tracing for one site: at the end of each request the rules are checked against a few
 * cheap fields (path, status, time taken, certificate); only a matching request has its trace built and
 * written. The first rule that matches keeps the trace (IIS).
 */
import type { TracingRule, TracingSettings } from '../config/tracing-schema.js';
import type { EventLog } from './log.js';
import type { RequestRecord } from './request-record.js';
import { buildTrace, type TracedRequest } from './trace-builder.js';
import { TraceWriter } from './trace-writer.js';

export class SiteTracer {
  readonly settings: TracingSettings;
  readonly writer: TraceWriter;

  constructor(settings: TracingSettings, eventLog: EventLog) {
    this.settings = settings;
    this.writer = new TraceWriter(settings, eventLog);
  }

  consider(record: RequestRecord, end: TracedRequest): void {
    const rules = this.settings.rules;
    for (let i = 0; i < rules.length; i++) {
      const why = ruleMatches(rules[i] as TracingRule, record, end.tls?.certificate?.issuer ?? '');
      if (why === undefined) continue;
      // As in IIS, the first rule whose path (and certificate conditions) match decides alone.
      if (why) this.writer.write(buildTrace(record, end, this.settings, i, why));
      return;
    }
  }

  close(): Promise<void> {
    return this.writer.close();
  }
}

/**
 * Whether a rule applies to this request (undefined: its path or certificate conditions do not match),
 * and if so why it keeps it (`STATUS_CODE`, `TIME_TAKEN`, `RULE_MATCHED`) or '' when it does not.
 */
export function ruleMatches(rule: TracingRule, record: RequestRecord, certificateIssuer = ''): string | undefined {
  const queryAt = record.url.indexOf('?');
  const path = queryAt < 0 ? record.url : record.url.slice(0, queryAt);
  if (!rule.path.test(path)) return undefined;
  const cert = rule.clientCertificate;
  if (cert) {
    if (cert.present !== undefined && cert.present !== (record.thumbprint !== '')) return undefined;
    if (cert.subject !== undefined && !record.certificateSubject.toLowerCase().includes(cert.subject)) return undefined;
    if (cert.issuer !== undefined && !certificateIssuer.toLowerCase().includes(cert.issuer)) return undefined;
    if (cert.thumbprint !== undefined && record.thumbprint !== cert.thumbprint) return undefined;
  }
  if (rule.statusCodes?.(record.status, record.subStatus)) return 'STATUS_CODE';
  if (rule.timeTakenMs !== undefined && record.timeTakenMs >= rule.timeTakenMs) return 'TIME_TAKEN';
  // A rule with neither condition keeps every request on its path (IIS's "all content" trace).
  if (!rule.statusCodes && rule.timeTakenMs === undefined) return 'RULE_MATCHED';
  return '';
}
