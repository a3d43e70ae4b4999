/**
 * IIS's Server Certificates page: the listing (every certificate the config names or the store holds, the
 * CRLs), Create Self-Signed Certificate, Import (PFX or PEM pair) and Remove. Writes go into the store folder
 * (certificate-store.ts), guarded by the listing's ETag and audited with subject and thumbprints: no key, no
 * password ever reaches an answer, the audit log or the event log.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { z } from 'zod';
import { PfxError, createSelfSignedServer, readPfx } from '../../pki/index.js';
import { listCertificates, type CertificateEntry, type CertificateListing } from '../certificate-inventory.js';
import { CERTIFICATE_ID, certificateStoreDir } from '../certificate-paths.js';
import { isStored, removeStored, writeStored } from '../certificate-store.js';
import { ApiProblem } from '../problem.js';
import type { Call, PreparedWrite, Route } from '../route.js';

const useSchema = z.object({
  site: z.string().nullable().describe('the site; null for the admin listener'),
  binding: z.string().nullable().describe('`https://address:port (hostName)` (`admin https://…` for the admin listener); null for a site-wide use'),
  as: z.enum(['certificate', 'chain', 'trustedCa', 'crl']),
});
export const certificateEntrySchema = z.object({
  id: z.string().describe('SHA-1 thumbprint, upper-case hex (what a binding names as `certificate: { id }`)'),
  friendlyName: z.string().nullable(),
  subject: z.string(),
  issuer: z.string(),
  sans: z.array(z.string()).describe('subject alternative names as `DNS:name`, `IP Address:addr`'),
  serialNumber: z.string(),
  notBefore: z.string(),
  notAfter: z.string(),
  daysLeft: z.number().int(),
  thumbprintSha1: z.string(),
  thumbprintSha256: z.string(),
  keyType: z.string().describe('RSA, EC, Ed25519, …'),
  keySize: z.number().int().nullable().describe('bits (RSA) or curve size (EC)'),
  kind: z.enum(['server', 'ca', 'admin']),
  files: z.object({ certFile: z.string(), keyFile: z.string().nullable() }),
  inStore: z.boolean(),
  usedBy: z.array(useSchema),
  problems: z.array(z.string()).describe("'expires in N days' (within 30 days), 'expired', 'not yet valid', 'chain incomplete: issuer … not in the file', 'key does not match the certificate'"),
});
const crlEntrySchema = z.object({ file: z.string(), issuer: z.string(), thisUpdate: z.string(), nextUpdate: z.string().nullable(), revoked: z.number().int(), usedBy: z.array(useSchema), problems: z.array(z.string()) });
const listingSchema = z.object({ etag: z.string().describe('the value If-Match must carry for a write to the store'), certificates: z.array(certificateEntrySchema), crls: z.array(crlEntrySchema), problems: z.array(z.string()).describe('files that cannot be read') });
const createdSchema = z.object({ id: z.string(), certificate: certificateEntrySchema });

const DNS_NAME = /^(\*\.)?([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.)*[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;
const friendlyName = z.string().min(1).max(256).describe('the name IIS shows beside the certificate');
export const selfSignedBody = z.strictObject({
  friendlyName,
  hostNames: z
    .array(z.string().refine((name) => isIP(name) !== 0 || (name.length <= 253 && DNS_NAME.test(name)), 'a DNS name (app.example.test, *.example.test) or an IP address'))
    .min(1)
    .max(100)
    .describe('DNS names and IP addresses of the certificate (subject alternative names); the first is its common name'),
  validityDays: z.number().int().min(1).max(3650).default(365).describe('days of validity, 1-3650 (default 365)'),
  keyType: z.enum(['EC', 'RSA']).default('EC').describe('EC (P-256, default) or RSA (2048 bits)'),
});
export const importBody = z
  .strictObject({
    pfx: z.string().min(1).optional().describe('a PKCS#12 (.pfx/.p12) file, base64'),
    password: z.string().optional().describe("the PFX's password"),
    certificatePem: z.string().min(1).optional().describe('PEM certificate, optionally followed by its chain (leaf first)'),
    keyPem: z.string().min(1).optional().describe('its unencrypted PEM private key'),
    friendlyName: friendlyName.optional(),
  })
  .superRefine((body, ctx) => {
    const pfx = body.pfx !== undefined;
    const pem = body.certificatePem !== undefined || body.keyPem !== undefined;
    if (pfx === pem) ctx.addIssue({ code: 'custom', path: pfx ? ['certificatePem'] : ['pfx'], input: undefined, message: pfx ? 'not with pfx (expected either { pfx, password } or { certificatePem, keyPem })' : 'required (expected either { pfx, password } or { certificatePem, keyPem })' });
    else if (pfx && body.password === undefined) ctx.addIssue({ code: 'custom', path: ['password'], input: undefined, message: "required with pfx (expected the PFX's password; \"\" for none)" });
    else if (pem && body.certificatePem === undefined) ctx.addIssue({ code: 'custom', path: ['certificatePem'], input: undefined, message: 'required with keyPem (expected a PEM certificate)' });
    else if (pem && body.keyPem === undefined) ctx.addIssue({ code: 'custom', path: ['keyPem'], input: undefined, message: 'required with certificatePem (expected its PEM private key)' });
  })
  .describe('Either { pfx, password } or { certificatePem, keyPem }, with an optional friendlyName');

const STORE_GUARD = 'the certificate listing\'s ETag (GET /certificates)';
const idParam = { id: 'the certificate\'s id: its SHA-1 thumbprint, 40 upper-case hex digits' };

function invalid(field: string, message: string): ApiProblem {
  return new ApiProblem(422, 'invalid_body', 'Unprocessable Content', `${field}: ${message}`, [{ field, message }]);
}

/** What the audit shows of a certificate: names and thumbprints. */
function described(cert: X509Certificate): { id: string; subject: string; thumbprintSha1: string; thumbprintSha256: string } {
  const id = cert.fingerprint.replace(/:/g, '');
  return { id, subject: cert.subject.split('\n').reverse().join(', '), thumbprintSha1: id, thumbprintSha256: cert.fingerprint256.replace(/:/g, '').toLowerCase() };
}

/** A certificate ready for the store: leaf first, and its key. */
interface Incoming {
  readonly leaf: X509Certificate;
  readonly chain: readonly X509Certificate[];
  readonly key: KeyObject;
  readonly friendlyName: string | undefined;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function fromPfx(body: z.output<typeof importBody>): Incoming {
  const text = (body.pfx as string).replace(/\s+/g, '');
  if (text.length % 4 !== 0 || !BASE64.test(text)) throw invalid('pfx', 'not base64 (expected a PKCS#12 file encoded in base64)');
  let contents;
  try {
    contents = readPfx(Buffer.from(text, 'base64'), body.password ?? '');
  } catch (error) {
    if (error instanceof PfxError && error.reason === 'password') throw invalid('password', 'does not open the PFX (wrong password)');
    throw invalid('pfx', error instanceof PfxError ? error.message : 'cannot be read as a PKCS#12 file');
  }
  const key = contents.keys[0];
  if (!key) throw invalid('pfx', 'holds no private key (expected a PFX with a certificate and its key)');
  const leaf = contents.certificates.find((cert) => cert.checkPrivateKey(key));
  if (!leaf) throw invalid('pfx', 'holds no certificate that matches its private key');
  return { leaf, chain: contents.certificates.filter((cert) => cert !== leaf), key, friendlyName: body.friendlyName ?? contents.friendlyName };
}

function fromPem(body: z.output<typeof importBody>): Incoming {
  const blocks = (body.certificatePem as string).match(PEM_CERT) ?? [];
  if (blocks.length === 0) throw invalid('certificatePem', 'holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)');
  let certs: X509Certificate[];
  try {
    certs = blocks.map((block) => new X509Certificate(block));
  } catch {
    throw invalid('certificatePem', 'a certificate in it cannot be parsed');
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(body.keyPem as string);
  } catch {
    throw invalid('keyPem', 'not an unencrypted PEM private key');
  }
  if (key.type !== 'private') throw invalid('keyPem', 'not a private key');
  const [leaf, ...chain] = certs as [X509Certificate, ...X509Certificate[]];
  if (!leaf.checkPrivateKey(key)) throw invalid('keyPem', 'does not match the certificate (the first certificate of certificatePem)');
  return { leaf, chain, key, friendlyName: body.friendlyName };
}

/** The store entry of a certificate just written, from a fresh listing. */
async function created(call: Call, id: string): Promise<{ listing: CertificateListing; entry: CertificateEntry }> {
  const listing = await listCertificates(call.ctx.config());
  const entry = listing.certificates.find((e) => e.id === id);
  if (!entry) throw new Error(`certificate ${id} was written but is not in the listing`);
  return { listing, entry };
}

async function storeWrite(call: Call, incoming: () => Promise<Incoming>, operation: Record<string, unknown>): Promise<PreparedWrite> {
  const listing = await listCertificates(call.ctx.config());
  const dir = certificateStoreDir(call.ctx.config());
  // An import is read now (a bad body is refused before the audit's attempt line); a new key is made in apply.
  const ready = operation.type === 'certificate.import' ? await incoming() : undefined;
  if (ready) {
    Object.assign(operation, described(ready.leaf), { friendlyName: ready.friendlyName ?? null });
    if (await isStored(dir, (operation as { id: string }).id)) throw new ApiProblem(409, 'certificate_exists', 'Conflict', `the store already holds certificate ${(operation as { id: string }).id}`);
  }
  return {
    etag: listing.etag,
    operation,
    before: null,
    apply: async () => {
      const made = ready ?? (await incoming());
      const about = described(made.leaf);
      const pem = [made.leaf, ...made.chain].map((cert) => cert.toString()).join('');
      try {
        await writeStored(dir, { id: about.id, chainPem: pem, keyPem: made.key.export({ type: 'pkcs8', format: 'pem' }) as string, friendlyName: made.friendlyName });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new ApiProblem(409, 'certificate_exists', 'Conflict', `the store already holds certificate ${about.id}`);
        throw error;
      }
      const { listing: after, entry } = await created(call, about.id);
      return { changed: true, status: 201, after: { ...about, certFile: entry.files.certFile, keyFile: entry.files.keyFile }, body: { id: about.id, certificate: entry }, etag: after.etag };
    },
  };
}

/** A route that adds a certificate to the store (Create Self-Signed, Import): administrator, guarded by the listing's ETag, 201. */
function addsToStore(path: string, operationId: string, summary: string, body: z.ZodType, write: NonNullable<Route['write']>): Route {
  return {
    method: 'POST',
    path,
    operationId,
    // A PFX with a long chain, as base64.
    maxBodyBytes: 1024 * 1024,
    summary,
    role: 'administrator',
    tag: 'certificates',
    body,
    guard: STORE_GUARD,
    errors: [409, 412, 422, 428],
    response: { description: 'created (201): the id a binding can name, and the listing entry', schema: createdSchema },
    write,
  };
}

export const CERTIFICATE_ROUTES: readonly Route[] = [
  {
    method: 'GET',
    path: '/certificates',
    operationId: 'listCertificates',
    summary: "IIS's Server Certificates: every certificate the config names or the store holds, with who uses it and its problems, and the CRLs",
    role: 'viewer',
    tag: 'certificates',
    response: { description: 'the listing (ETag header: the listing\'s ETag, which guards writes to the store)', schema: listingSchema },
    handle: async ({ ctx }) => {
      const listing = await listCertificates(ctx.config());
      return { body: listing, etag: listing.etag };
    },
  },
  addsToStore('/certificates/self-signed', 'createSelfSignedCertificate', "IIS's Create Self-Signed Certificate: a new key and certificate in the store", selfSignedBody, (call) => {
    const body = call.body as z.output<typeof selfSignedBody>;
    const operation = { type: 'certificate.createSelfSigned', friendlyName: body.friendlyName, hostNames: body.hostNames, validityDays: body.validityDays, keyType: body.keyType };
    const make = async (): Promise<Incoming> => {
      const issued = await createSelfSignedServer({
        dnsNames: body.hostNames.filter((name) => isIP(name) === 0),
        ipAddresses: body.hostNames.filter((name) => isIP(name) !== 0),
        commonName: body.hostNames[0] as string,
        keyType: body.keyType === 'RSA' ? 'rsa-2048' : 'ecdsa-p256',
        days: body.validityDays,
      });
      return { leaf: issued.cert, chain: [], key: createPrivateKey(issued.keyPem), friendlyName: body.friendlyName };
    };
    return storeWrite(call, make, operation);
  }),
  addsToStore('/certificates/import', 'importCertificate', "IIS's Import: a PFX (base64, with its password) or a PEM certificate and key, into the store", importBody, (call) => {
    const body = call.body as z.output<typeof importBody>;
    const format = body.pfx !== undefined ? 'pfx' : 'pem';
    return storeWrite(call, async () => (format === 'pfx' ? fromPfx(body) : fromPem(body)), { type: 'certificate.import', format });
  }),
  {
    method: 'DELETE',
    path: '/certificates/{id}',
    operationId: 'removeCertificate',
    summary: "IIS's Remove: a store certificate no binding uses (its certificate, key and metadata files)",
    role: 'administrator',
    tag: 'certificates',
    params: idParam,
    guard: STORE_GUARD,
    errors: [404, 409, 412, 428],
    response: { description: 'removed: the listing after it', schema: listingSchema },
    write: async (call) => {
      const id = (call.params.id ?? '').toUpperCase();
      if (!CERTIFICATE_ID.test(id)) throw new ApiProblem(404, 'certificate_not_found', 'Not Found', `no certificate ${call.params.id}: an id is a SHA-1 thumbprint (40 hex digits)`);
      const listing = await listCertificates(call.ctx.config());
      const entry = listing.certificates.find((e) => e.id === id && e.inStore);
      if (!entry) throw new ApiProblem(404, 'certificate_not_found', 'Not Found', `the store holds no certificate ${id}`);
      const users = entry.usedBy.filter((use) => use.as === 'certificate' || use.as === 'chain');
      if (users.length) throw new ApiProblem(409, 'certificate_in_use', 'Conflict', `certificate ${id} is used by ${users.map((use) => `${use.site ?? 'admin'} ${use.binding ?? ''}`.trim()).join('; ')}: change those bindings first`);
      const before = { id, subject: entry.subject, thumbprintSha1: entry.thumbprintSha1, thumbprintSha256: entry.thumbprintSha256, certFile: entry.files.certFile };
      return {
        etag: listing.etag,
        operation: { type: 'certificate.remove', id },
        before,
        apply: async () => {
          await removeStored(certificateStoreDir(call.ctx.config()), id);
          const after = await listCertificates(call.ctx.config());
          return { changed: true, after: null, body: after, etag: after.etag };
        },
      };
    },
  },
];
