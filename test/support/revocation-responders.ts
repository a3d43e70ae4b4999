/**
 * CRL distribution points and OCSP responders on 127.0.0.1, for online revocation tests. One HTTP server:
 * `/crl/NAME` serves the CRL set for NAME; `/ocsp/NAME` answers an OCSP POST with a real OpenSSL responder
 * (`openssl ocsp -index … -reqin … -respout …`, run per request, so it listens on loopback only). Every
 * path counts its hits; a path can be made to hang, drop the connection, answer with a broken signature or
 * (OCSP) answer a stale response. Each hit is also an event, so tests wait for hits instead of sleeping.
 */
import { execFile } from 'node:child_process';
import { sign } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AsnConvert } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Certificate } from '@peculiar/asn1-x509';
import { BasicOCSPResponse, CertStatus, OCSPRequest, OCSPResponse, OCSPResponseStatus, ResponderID, ResponseBytes, ResponseData, SingleResponse, id_pkix_ocsp_basic } from '@peculiar/asn1-ocsp';
import { OctetString } from '@peculiar/asn1-schema';
import type { Issued } from '../../src/pki/index.js';

const run = promisify(execFile);

export type Mode = 'ok' | 'hang' | 'drop' | 'bad-signature' | 'stale' | 'http-500' | 'garbage' | 'huge' | 'redirect';

interface OcspResponder {
  /** The CA whose certificates it answers for. */
  readonly ca: Issued;
  /** Who signs: the CA itself, or a delegated responder certificate. */
  readonly signer: Issued;
  /** serial (upper-case hex) → revoked? Serials not listed are unknown to the responder. */
  readonly statuses: Map<string, 'good' | 'revoked'>;
}

export interface Responders {
  readonly origin: string;
  crlUrl(name: string): string;
  ocspUrl(name: string): string;
  setCrl(name: string, der: Buffer): void;
  setOcsp(name: string, ca: Issued, signer?: Issued): void;
  /** good or revoked, for a serial of the named responder's CA. */
  setStatus(name: string, serial: string, status: 'good' | 'revoked'): void;
  setMode(path: string, mode: Mode): void;
  hits(path: string): number;
  /** Resolves at the `count`th hit of `path` (at once if already there), or rejects after `timeoutMs`. */
  waitForHits(path: string, count: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

const evenHex = (serial: string) => (serial.length % 2 ? `0${serial}` : serial).toUpperCase();
const indexDate = (date: Date) => date.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';

export async function startResponders(): Promise<Responders> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-ocsp-'));
  const crls = new Map<string, Buffer>();
  const responders = new Map<string, OcspResponder>();
  const modes = new Map<string, Mode>();
  const hits = new Map<string, number>();
  const events = new EventEmitter();
  events.setMaxListeners(100);
  let sequence = 0;

  async function ocspAnswer(name: string, request: Buffer, mode: Mode): Promise<Buffer> {
    const responder = responders.get(name);
    if (!responder) throw new Error(`no OCSP responder ${name}`);
    if (mode === 'stale') return staleAnswer(responder, request);
    const base = join(dir, `${name}-${sequence++}`);
    const index = [...responder.statuses].map(([serial, status]) =>
      status === 'revoked' ? `R\t301231000000Z\t${indexDate(new Date(Date.now() - 3_600_000))}\t${evenHex(serial)}\tunknown\t/CN=x` : `V\t301231000000Z\t\t${evenHex(serial)}\tunknown\t/CN=x`,
    );
    await Promise.all([
      writeFile(`${base}.index`, index.join('\n') + (index.length ? '\n' : '')),
      writeFile(`${base}.ca.pem`, responder.ca.certPem),
      writeFile(`${base}.signer.pem`, responder.signer.certPem),
      writeFile(`${base}.signer.key`, responder.signer.keyPem, { mode: 0o600 }),
      writeFile(`${base}.req`, request),
    ]);
    const args = ['ocsp', '-index', `${base}.index`, '-CA', `${base}.ca.pem`, '-rsigner', `${base}.signer.pem`, '-rkey', `${base}.signer.key`, '-reqin', `${base}.req`, '-respout', `${base}.resp`, '-ndays', '1'];
    if (mode === 'bad-signature') args.push('-resp_no_certs');
    await run('openssl', args);
    const answer = await readFile(`${base}.resp`);
    if (mode === 'bad-signature') answer[answer.length - 1] = (answer[answer.length - 1] as number) ^ 0x01; // the signature's last byte
    return answer;
  }

  /** A good answer, correctly signed by the CA, whose validity ended yesterday. */
  function staleAnswer(responder: OcspResponder, request: Buffer): Buffer {
    const parsed = AsnConvert.parse(request, OCSPRequest);
    const certId = parsed.tbsRequest.requestList[0]?.reqCert;
    if (!certId) throw new Error('an OCSP request without a certificate');
    const day = 86_400_000;
    const data = new ResponseData({
      responderID: new ResponderID({ byName: AsnConvert.parse(responder.ca.cert.raw, Certificate).tbsCertificate.subject }),
      producedAt: new Date(Date.now() - 2 * day),
      responses: [new SingleResponse({ certID: certId, certStatus: new CertStatus({ good: null }), thisUpdate: new Date(Date.now() - 2 * day), nextUpdate: new Date(Date.now() - day) })],
    });
    const tbs = Buffer.from(AsnConvert.serialize(data));
    const isEc = responder.ca.cert.publicKey.asymmetricKeyType === 'ec';
    const signature = sign('sha256', tbs, responder.ca.keyPem);
    const basic = new BasicOCSPResponse({ tbsResponseData: data, signatureAlgorithm: new AlgorithmIdentifier({ algorithm: isEc ? '1.2.840.10045.4.3.2' : '1.2.840.113549.1.1.11', ...(isEc ? {} : { parameters: null }) }), signature: new Uint8Array(signature).buffer });
    const response = new OCSPResponse({ responseStatus: OCSPResponseStatus.successful, responseBytes: new ResponseBytes({ responseType: id_pkix_ocsp_basic, response: new OctetString(AsnConvert.serialize(basic)) }) });
    return Buffer.from(AsnConvert.serialize(response));
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0] as string;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    events.emit('hit', path);
    const mode = modes.get(path) ?? 'ok';
    if (mode === 'hang') return; // never answers; closeAllConnections ends it
    if (mode === 'drop') {
      req.socket.destroy();
      return;
    }
    if (mode === 'http-500') {
      res.writeHead(500).end('down');
      return;
    }
    if (mode === 'garbage') {
      res.writeHead(200, { 'content-type': 'application/ocsp-response' }).end(Buffer.from('3082ffff0a0b0c', 'hex'));
      return;
    }
    if (mode === 'huge') {
      res.writeHead(200, { 'content-type': 'application/ocsp-response' }).end(Buffer.alloc(300 * 1024, 0x30));
      return;
    }
    if (mode === 'redirect') {
      res.writeHead(302, { location: `${origin}/crl/elsewhere` }).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const [, kind, name = ''] = path.split('/');
      if (kind === 'crl') {
        let crl = crls.get(name);
        if (!crl) {
          res.writeHead(404).end();
          return;
        }
        if (mode === 'bad-signature') {
          crl = Buffer.from(crl);
          crl[crl.length - 1] = (crl[crl.length - 1] as number) ^ 0x01;
        }
        res.writeHead(200, { 'content-type': 'application/pkix-crl' }).end(crl);
        return;
      }
      ocspAnswer(name, Buffer.concat(chunks), mode).then(
        (answer) => res.writeHead(200, { 'content-type': 'application/ocsp-response' }).end(answer),
        (error: Error) => res.writeHead(500).end(error.message),
      );
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    origin,
    crlUrl: (name) => `${origin}/crl/${name}`,
    ocspUrl: (name) => `${origin}/ocsp/${name}`,
    setCrl: (name, der) => void crls.set(name, der),
    setOcsp: (name, ca, signer = ca) => void responders.set(name, { ca, signer, statuses: responders.get(name)?.statuses ?? new Map() }),
    setStatus: (name, serial, status) => {
      const responder = responders.get(name);
      if (!responder) throw new Error(`no OCSP responder ${name}`);
      responder.statuses.set(serial.toUpperCase(), status);
    },
    setMode: (path, mode) => void modes.set(path, mode),
    hits: (path) => hits.get(path) ?? 0,
    waitForHits: (path, count, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        if ((hits.get(path) ?? 0) >= count) {
          resolve();
          return;
        }
        const timer = setTimeout(() => {
          events.off('hit', onHit);
          reject(new Error(`${path}: ${hits.get(path) ?? 0} hits after ${timeoutMs} ms, expected ${count}`));
        }, timeoutMs);
        const onHit = () => {
          if ((hits.get(path) ?? 0) < count) return;
          clearTimeout(timer);
          events.off('hit', onHit);
          resolve();
        };
        events.on('hit', onHit);
      }),
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
      await rm(dir, { recursive: true, force: true });
    },
  };
}
