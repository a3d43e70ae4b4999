/**
 * `netsh http show sslcert` entries as Windows Server 2022 prints them (English): the fields in netsh's order
 * with its defaults, each line indented four spaces and its label padded to netsh's column.
 */
export const SERVER_2022_FIELDS: readonly (readonly [string, string])[] = [
  ['Certificate Hash', '5e7a1c3b9d2f4e6a8b0c1d2e3f4a5b6c7d8e9f01'],
  ['Application ID', '{4dc3e181-e14b-4a21-b022-59fc669b0914}'],
  ['Certificate Store Name', 'MY'],
  ['Verify Client Certificate Revocation', 'Enabled'],
  ['Verify Revocation Using Cached Client Certificate Only', 'Disabled'],
  ['Usage Check', 'Enabled'],
  ['Revocation Freshness Time', '0'],
  ['URL Retrieval Timeout', '0'],
  ['Ctl Identifier', '(null)'],
  ['Ctl Store Name', '(null)'],
  ['DS Mapper Usage', 'Disabled'],
  ['Negotiate Client Certificate', 'Disabled'],
  ['Reject Connections', 'Disabled'],
  ['Disable HTTP2', 'Not Set'],
  ['Disable QUIC', 'Not Set'],
  ['Disable TLS1.2', 'Not Set'],
  ['Disable TLS1.3', 'Not Set'],
  ['Disable OCSP Stapling', 'Not Set'],
  ['Enable Token Binding', 'Not Set'],
  ['Log Extended Events', 'Not Set'],
  ['Disable Legacy TLS Versions', 'Not Set'],
  ['Enable Session Ticket', 'Not Set'],
];

/** One line as netsh prints it: `    Label<padding>: value`, or `    Long label : value` past its column. */
export function netshLine(label: string, value: string): string {
  return label.length >= 29 ? `    ${label} : ${value}` : `    ${label.padEnd(29)}: ${value}`;
}

/** An entry: its key line, then the first `take` fields of SERVER_2022_FIELDS with `overrides` for their values. */
export function netshEntry(keyLabel: string, keyValue: string, overrides: Readonly<Record<string, string>> = {}, take = SERVER_2022_FIELDS.length): string[] {
  return [netshLine(keyLabel, keyValue), ...SERVER_2022_FIELDS.slice(0, take).map(([label, value]) => netshLine(label, overrides[label] ?? value))];
}
