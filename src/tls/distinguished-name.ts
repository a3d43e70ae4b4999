/**
 * Distinguished names the way Windows prints them in ARR's X-ARR-SSL: RDNs in the order encoded,
 * `, ` between them, `S=` for the state, values with separators quoted.
 */
const WINDOWS_NAMES: Record<string, string> = { ST: 'S', emailAddress: 'E' };

/** Node's X509Certificate.subject/issuer (`C=US\nST=WA\nCN=x`) → `C=US, S=WA, CN=x`. */
export function windowsDn(nodeDn: string): string {
  return nodeDn
    .split('\n')
    .filter(Boolean)
    .map((rdn) => {
      const eq = rdn.indexOf('=');
      const type = rdn.slice(0, eq);
      const value = rdn.slice(eq + 1);
      const quoted = /[,+="\n<>#;]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
      return `${WINDOWS_NAMES[type] ?? type}=${quoted}`;
    })
    .join(', ');
}

/** Node's DN → RFC 4514 order (most specific first) with escaping, as Envoy's XFCC Subject uses. */
export function rfc4514Dn(nodeDn: string): string {
  return nodeDn
    .split('\n')
    .filter(Boolean)
    .reverse()
    .map((rdn) => {
      const eq = rdn.indexOf('=');
      return `${rdn.slice(0, eq)}=${rdn.slice(eq + 1).replace(/([,+"\\<>;])/g, '\\$1')}`;
    })
    .join(',');
}
