/**
 * A site's routing rules (IIS URL Rewrite's model, simplified): an ordered list of match conditions
 * (host, path, headers, client certificate) each with an action (route to a farm, redirect, respond).
 * The schema and the semantic checks (farm references, regular expressions, `{R:n}` captures). What a
 * rule is once loaded is in model.ts (Rule); proxy/rules/compile-rules.ts compiles a site's rules into it.
 */
import { z } from 'zod';
import type { Problem } from './problem.js';
import { compilePath, normalizeThumbprint, parseTemplate } from '../proxy/rules/compile.js';

const headerName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'an HTTP header name (token characters)');

export const ruleMatchSchema = z
  .strictObject({
    host: z.string().min(1).optional().describe('Wildcard on the host name of the request (the `Host` header without its port), case-insensitive: `*` any characters, `?` one. E.g. `api.example.test`, `*.example.test`.'),
    path: z
      .string()
      .min(1)
      .optional()
      .describe('Wildcard on the URL path, from its leading `/` and without the query string: `*` any characters, `?` one. Each `*` is a capture: `{R:1}`, `{R:2}`, … in the action (`{R:0}` is the whole path). E.g. `/api/*`. The path is matched percent-decoded (except `%2F` and other reserved characters) and with `.`/`..` segments resolved, as the server will read it.'),
    pathPattern: z
      .string()
      .min(1)
      .optional()
      .describe('Instead of `path`: an ECMAScript regular expression searched in the same path; anchor it yourself (`^/api/(.*)$`). Its groups are `{R:1}`, …; `{R:0}` is the matched text. Prefer `path` where a wildcard will do: it is matched in linear time, while a pattern with nested repetition such as `(a+)+` can take very long on a path a client chose.'),
    ignoreCase: z.boolean().default(true).describe('Whether `path` and `pathPattern` ignore letter case. Default true (IIS).'),
    headers: z
      .record(headerName, z.string().min(1))
      .meta({ type: 'mapping of header name to wildcard' })
      .optional()
      .describe('Request headers that must be present with a value matching a wildcard (case-insensitive; `*` any value), e.g. `{ X-Tenant: blue, Accept: "*json*" }`. All must match.'),
    clientCertificate: z
      .strictObject({
        present: z.boolean().optional().describe('true: only requests with an accepted client certificate; false: only requests without one.'),
        subject: z.string().min(1).optional().describe('Wildcard on the whole certificate subject as logs show it (`CN=alice, O=Example`), case-insensitive: `CN=alice, *`.'),
        issuer: z.string().min(1).optional().describe('Wildcard on the whole issuer name, in the same form, case-insensitive.'),
        thumbprint: z.string().min(1).optional().describe('SHA-1 (40 hex digits, as IIS shows it) or SHA-256 (64) thumbprint; case, colons and spaces ignored.'),
      })
      .optional()
      .describe('Conditions on the client certificate of the connection; all given must hold. A site whose `clientCertificates` is `ignore` never has one.'),
  })
  .describe('What a request must look like for the rule to apply; every condition given must hold. No condition: every request.');

export const ruleActionSchema = z
  .strictObject({
    type: z
      .enum(['route', 'redirect', 'respond'])
      .describe('`route`: forward to a farm (ARR\'s "Route to Server Farm"); `redirect`: answer with a redirect to `url`; `respond`: answer with `status` (URL Rewrite\'s "Custom Response").'),
    farm: z.string().min(1).optional().describe('route: the farm (in `farms`). Default: the site\'s `farm`.'),
    rewrite: z
      .string()
      .min(1)
      .optional()
      .describe('route: the path (and optional query) the server receives instead of the client\'s, with captures: `/v1/{R:1}`. The server also receives the original path and query in `X-Original-URL`. Default: unchanged.'),
    url: z.string().min(1).optional().describe('redirect (required): the `Location`, with captures, `{HTTP_HOST}`, `{REQUEST_URI}` (original path and query) and `{HTTPS}` (`on`/`off`): `https://{HTTP_HOST}/new/{R:1}`.'),
    appendQueryString: z.boolean().optional().describe('route with `rewrite`, and redirect: append the request\'s query string to the new URL. Default true (IIS).'),
    status: z
      .number()
      .int()
      .min(200)
      .max(599)
      .optional()
      .describe('redirect: 301, 302, 307 or 308, default 302 (URL Rewrite\'s "Found"). respond (required): the status code, 200-599.'),
    subStatus: z.number().int().min(0).max(999).optional().describe('respond: the IIS sub-status, as logged (`403.502`). Default 0.'),
    body: z.string().optional().describe('respond: the body text. Default: IIS\'s error page for the status (HTML or text, as the client prefers) for 400-599, none below.'),
    contentType: z
      .string()
      .regex(/^[\x20-\x7e]+$/, 'a media type such as application/json')
      .optional().describe('respond, with `body`: its `Content-Type`. Default `text/plain; charset=utf-8`.'),
  })
  .describe('What happens to a request the rule matches.');

export const ruleSchema = z
  .strictObject({
    name: z.string().min(1).describe('Name of the rule, unique in the site; appears in traces.'),
    match: ruleMatchSchema.default({ ignoreCase: true }),
    action: ruleActionSchema,
    stopProcessing: z
      .boolean()
      .default(true)
      .describe('Whether a match ends rule processing. `false` (route only) lets later rules see the rewritten path and override the route. Default true.'),
  })
  .describe('A routing rule. Rules are tried in order; the first that matches decides (unless its `stopProcessing` is false). A request no rule matches goes to the site\'s `farm`, or gets 404 when the site has none.');

export const rulesSchema = z
  .array(ruleSchema)
  .describe('Routing rules of the site (IIS URL Rewrite), tried in order before the site\'s `farm`. With rules, `farm` is optional: it serves what no rule matches.');

export type DeclaredRule = z.output<typeof ruleSchema>;

/** The statuses a redirect action may have (RedirectStatus, model.ts). */
export const REDIRECT_STATUSES: readonly number[] = [301, 302, 307, 308];
const KEYS_OF: Record<DeclaredRule['action']['type'], readonly string[]> = {
  route: ['type', 'farm', 'rewrite', 'appendQueryString'],
  redirect: ['type', 'url', 'status', 'appendQueryString'],
  respond: ['type', 'status', 'subStatus', 'body', 'contentType'],
};

/** What the checks need to know about the site around its rules. */
export interface RuleSiteContext {
  /** The site's `farm`, if any. */
  readonly farm: string | undefined;
  readonly farmNames: readonly string[];
  readonly clientCertificates: 'ignore' | 'accept' | 'require';
  readonly hasHttps: boolean;
}

/** The semantic checks of a site's rules; `at` is the site's path. */
export function checkRules(rules: readonly DeclaredRule[], site: RuleSiteContext, at: readonly (string | number)[], problems: Problem[], warnings: Problem[]): void {
  const names = new Map<string, number>();
  let catchAll: number | undefined;
  for (const [r, rule] of rules.entries()) {
    const here = [...at, 'rules', r];
    const seen = names.get(rule.name.toLowerCase());
    if (seen !== undefined) problems.push({ path: [...here, 'name'], message: `rule name '${rule.name}' is already used by rules[${seen}]`, expected: 'a unique rule name in the site' });
    else names.set(rule.name.toLowerCase(), r);
    if (catchAll !== undefined) {
      warnings.push({ path: here, message: `rules[${catchAll}] matches every request and stops processing, so this rule is never reached`, expected: `conditions on rules[${catchAll}], or this rule before it` });
      catchAll = undefined; // once is enough
    }
    const { match, action } = rule;
    if (match.path !== undefined && match.pathPattern !== undefined) {
      problems.push({ path: [...here, 'match', 'pathPattern'], message: 'both path and pathPattern are given', expected: 'either a wildcard in path or a regular expression in pathPattern' });
    }
    const path = compilePath(match);
    if ('error' in path) problems.push({ path: [...here, 'match', path.key], message: `not a valid regular expression: ${path.error}`, expected: 'an ECMAScript regular expression' });
    const cert = match.clientCertificate;
    if (cert?.thumbprint !== undefined && !normalizeThumbprint(cert.thumbprint)) {
      problems.push({ path: [...here, 'match', 'clientCertificate', 'thumbprint'], message: `'${cert.thumbprint}' is not a thumbprint`, expected: '40 (SHA-1) or 64 (SHA-256) hex digits' });
    }
    const needsCertificate = cert !== undefined && (cert.present === true || cert.subject !== undefined || cert.issuer !== undefined || cert.thumbprint !== undefined);
    if (needsCertificate && (site.clientCertificates === 'ignore' || !site.hasHttps)) {
      warnings.push({
        path: [...here, 'match', 'clientCertificate'],
        message: site.clientCertificates === 'ignore' ? "the site's clientCertificates is 'ignore', so no request has a certificate and this rule never matches" : 'the site has no https binding, so no request has a certificate and this rule never matches',
        expected: "ssl.clientCertificates 'accept' or 'require' on an https binding",
      });
    }
    for (const key of Object.keys(action) as (keyof typeof action)[]) {
      if (action[key] !== undefined && !KEYS_OF[action.type].includes(key)) {
        problems.push({ path: [...here, 'action', key], message: `${key} does not apply to a ${action.type} action`, expected: `only ${KEYS_OF[action.type].join(', ')}` });
      }
    }
    const captures = 'error' in path ? Number.MAX_SAFE_INTEGER : path.captures;
    const template = (key: 'rewrite' | 'url', source: string) => {
      const parsed = parseTemplate(source, captures);
      if ('error' in parsed) problems.push({ path: [...here, 'action', key], message: parsed.error, expected: 'captures of the path condition, {HTTP_HOST}, {REQUEST_URI} or {HTTPS}' });
    };
    switch (action.type) {
      case 'route': {
        const farm = action.farm ?? site.farm;
        if (farm === undefined) problems.push({ path: [...here, 'action', 'farm'], message: 'required key is missing: the site has no farm of its own', expected: `the name of a farm: ${site.farmNames.join(', ')}` });
        else if (action.farm !== undefined && !site.farmNames.includes(action.farm)) {
          problems.push({ path: [...here, 'action', 'farm'], message: `farm '${action.farm}' is not defined`, expected: `one of the farms: ${site.farmNames.join(', ')}` });
        }
        if (action.rewrite !== undefined) {
          if (!action.rewrite.startsWith('/') && !action.rewrite.startsWith('{')) problems.push({ path: [...here, 'action', 'rewrite'], message: `'${action.rewrite}' is not a path`, expected: 'a path starting with /, e.g. /v1/{R:1}' });
          else template('rewrite', action.rewrite);
        }
        break;
      }
      case 'redirect':
        if (action.url === undefined) problems.push({ path: [...here, 'action', 'url'], message: 'required key is missing', expected: 'the redirect target, e.g. https://{HTTP_HOST}/{R:1}' });
        else template('url', action.url);
        if (action.status !== undefined && !REDIRECT_STATUSES.includes(action.status)) {
          problems.push({ path: [...here, 'action', 'status'], message: `${action.status} is not a redirect status`, expected: '301, 302, 307 or 308' });
        }
        break;
      case 'respond':
        if (action.status === undefined) problems.push({ path: [...here, 'action', 'status'], message: 'required key is missing', expected: 'the status code, 200-599' });
        else if ((action.status === 204 || action.status === 304) && action.body !== undefined) {
          problems.push({ path: [...here, 'action', 'body'], message: `a ${action.status} response has no body`, expected: 'no body, or another status' });
        }
        if (action.contentType !== undefined && action.body === undefined) problems.push({ path: [...here, 'action', 'contentType'], message: 'contentType without a body', expected: 'a body' });
        break;
    }
    if (!rule.stopProcessing && action.type !== 'route') {
      problems.push({ path: [...here, 'stopProcessing'], message: `a ${action.type} action always ends rule processing`, expected: 'stopProcessing true (the default), or a route action' });
    }
    const isCatchAll = match.host === undefined && match.path === undefined && match.pathPattern === undefined && match.headers === undefined && match.clientCertificate === undefined;
    if (isCatchAll && rule.stopProcessing) catchAll = r;
  }
}
