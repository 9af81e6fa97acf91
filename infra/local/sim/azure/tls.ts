/**
 * The simulator's TLS identity: a self-signed certificate for 127.0.0.1 made at start (no key is
 * committed). The certificate is its own CA, so a client trusts it with `tlsOptions: { ca }`. With a
 * stateDir it is kept there, so clients built before a restart keep trusting the simulator.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { generate } from 'selfsigned';

export interface SimTls {
  cert: string;
  key: string;
}

async function makeTls(): Promise<SimTls> {
  const now = new Date();
  const pems = await generate([{ name: 'commonName', value: 'burstgate-azure-sim' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(now.getTime() - 60_000),
    notAfterDate: new Date(now.getTime() + 365 * 24 * 3600_000),
    extensions: [
      // CA:true lets the certificate stand as the trust anchor that clients pass as `ca`
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyCertSign: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 7, ip: '127.0.0.1' },
          { type: 2, value: 'localhost' },
        ],
      },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

export async function loadOrMakeTls(stateDir: string | undefined): Promise<SimTls> {
  if (!stateDir) return makeTls();
  const file = join(stateDir, 'tls.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as SimTls;
  const tls = await makeTls();
  writeFileSync(file, JSON.stringify(tls), { mode: 0o600 });
  return tls;
}
