/**
 * The demo's backend servers: they answer with what they received, including the client certificate
 * Gatehouse forwarded in X-ARR-ClientCert, parsed the way a backend would parse it.
 */
import { X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

function describeCertificate(header: string | undefined): Record<string, string> | string {
  if (!header) return 'none (no client certificate was forwarded)';
  try {
    const cert = new X509Certificate(Buffer.from(header, 'base64'));
    return {
      subject: cert.subject.split('\n').reverse().join(', '),
      issuer: cert.issuer.split('\n').reverse().join(', '),
      validFrom: new Date(cert.validFrom).toISOString(),
      validTo: new Date(cert.validTo).toISOString(),
      thumbprintSha1: cert.fingerprint.replace(/:/g, ''),
      serialNumber: cert.serialNumber,
    };
  } catch (error) {
    return `unparseable X-ARR-ClientCert: ${(error as Error).message}`;
  }
}

export async function startDemoBackend(name: string): Promise<{ server: Server; address: string }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const body = JSON.stringify(
        {
          answeredBy: name,
          request: `${req.method} ${req.url}`,
          clientCertificate: describeCertificate(req.headers['x-arr-clientcert'] as string | undefined),
          arrHeaders: {
            'X-ARR-SSL': req.headers['x-arr-ssl'] ?? null,
            'X-ARR-LOG-ID': req.headers['x-arr-log-id'] ?? null,
            'X-Forwarded-For': req.headers['x-forwarded-for'] ?? null,
            'X-Forwarded-Proto': req.headers['x-forwarded-proto'] ?? null,
            'Max-Forwards': req.headers['max-forwards'] ?? null,
          },
        },
        null,
        2,
      );
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
      res.end(`${body}\n`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, address: `127.0.0.1:${(server.address() as AddressInfo).port}` };
}
