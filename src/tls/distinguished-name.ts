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
