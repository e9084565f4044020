import { generate } from 'selfsigned';

export interface ThrowawayCertificate {
  /** PEM certificate: the server presents it, and the one test client trusts it as its only CA. */
  cert: string;
  /** PEM private key; lives only in this process. */
  key: string;
}

/**
 * A self-signed certificate for 127.0.0.1/localhost, valid for one day, made fresh for each test server.
 * Trusting it on a single `https.Agent({ ca })` keeps TLS verification on everywhere else.
 */
export async function createThrowawayCertificate(): Promise<ThrowawayCertificate> {
  const notBeforeDate = new Date(Date.now() - 60_000);
  const notAfterDate = new Date(notBeforeDate.getTime() + 24 * 60 * 60 * 1000);
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', digitalSignature: true, keyCertSign: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
        ],
      },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}
