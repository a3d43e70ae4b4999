/** ETags of the admin API's resources: a strong validator, quoted, from a hash of what the resource is. */
import { createHash } from 'node:crypto';

export function etagOf(bytes: Buffer | string): string {
  return `"${createHash('sha256').update(bytes).digest('hex').slice(0, 32)}"`;
}
