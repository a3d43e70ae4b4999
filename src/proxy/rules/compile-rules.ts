/**
 * A site's routing rules compiled, once, when the config loads (config/load.ts): the declared rules that
 * config/rules-schema.ts checked become the Rule objects of the loaded config (config/model.ts), with
 * their wildcards, patterns and templates compiled by compile.ts. Load-time code: nothing here runs per
 * request, and it imports nothing of the request path.
 */
import type { Farm, RedirectStatus, Rule, RuleAction, RuleMatch } from '../../config/model.js';
import { REDIRECT_STATUSES, type DeclaredRule } from '../../config/rules-schema.js';
import { compilePath, normalizeThumbprint, parseTemplate, Wildcard, type Template } from './compile.js';

/**
 * The compiled rules of a site, for a config checkRules found valid: farms resolved (an action without
 * `farm` routes to `siteFarm`), patterns and templates compiled. Undefined if anything is still wrong.
 */
export function compileRules(rules: readonly DeclaredRule[], farms: ReadonlyMap<string, Farm>, siteFarm: Farm | undefined): Rule[] | undefined {
  const out: Rule[] = [];
  for (const [index, rule] of rules.entries()) {
    const { match, action } = rule;
    const path = compilePath(match);
    if ('error' in path) return undefined;
    const cert = match.clientCertificate;
    const thumbprint = cert?.thumbprint === undefined ? undefined : normalizeThumbprint(cert.thumbprint);
    if (cert?.thumbprint !== undefined && !thumbprint) return undefined;
    const normalizedMatch: RuleMatch = {
      host: match.host === undefined ? undefined : new Wildcard(match.host),
      path: path.matcher,
      headers: Object.entries(match.headers ?? {}).map(([name, value]) => ({ name: name.toLowerCase(), value: new Wildcard(value) })),
      clientCertificate:
        cert === undefined
          ? undefined
          : {
              present: cert.present,
              subject: cert.subject === undefined ? undefined : new Wildcard(cert.subject),
              issuer: cert.issuer === undefined ? undefined : new Wildcard(cert.issuer),
              thumbprint: thumbprint && 'sha1' in thumbprint ? thumbprint.sha1 : undefined,
              thumbprintSha256: thumbprint && 'sha256' in thumbprint ? thumbprint.sha256 : undefined,
            },
    };
    const template = (source: string | undefined): Template | undefined => {
      if (source === undefined) return undefined;
      const parsed = parseTemplate(source, path.captures);
      return 'error' in parsed ? undefined : parsed;
    };
    let normalizedAction: RuleAction;
    switch (action.type) {
      case 'route': {
        const farm = action.farm === undefined ? siteFarm : farms.get(action.farm);
        const rewrite = template(action.rewrite);
        if (!farm || (action.rewrite !== undefined && !rewrite)) return undefined;
        normalizedAction = { type: 'route', farm, rewrite, appendQueryString: action.appendQueryString ?? true };
        break;
      }
      case 'redirect': {
        const url = template(action.url);
        const status = action.status ?? 302;
        if (!url || !REDIRECT_STATUSES.includes(status)) return undefined;
        normalizedAction = { type: 'redirect', status: status as RedirectStatus, url, appendQueryString: action.appendQueryString ?? true };
        break;
      }
      case 'respond':
        if (action.status === undefined) return undefined;
        normalizedAction = {
          type: 'respond',
          status: action.status,
          subStatus: action.subStatus ?? 0,
          body: action.body === undefined ? undefined : Buffer.from(action.body, 'utf8'),
          contentType: action.contentType ?? 'text/plain; charset=utf-8',
        };
        break;
    }
    out.push({ name: rule.name, index, match: normalizedMatch, action: normalizedAction, stopProcessing: rule.stopProcessing });
  }
  return out;
}
