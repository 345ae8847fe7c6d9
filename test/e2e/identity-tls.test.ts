import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { composeStratus, type Stratus } from '../../bin/compose.js';
import { loadConfig } from '../../bin/config.js';
import { listenApi, type Listening } from '../../bin/tls.js';
import { adminPassword, removeDir } from '../support/stratus.js';

// A real TLS test: a CA and a server certificate are made here with openssl, the server's
// key and chain packed into a PKCS12 file with a passphrase; Stratus serves HTTPS from it
// as `stratus serve` does, and a client that trusts only that CA verifies the chain.

const dir = mkdtempSync(join(tmpdir(), 'stratus-tls-'));
const file = (name: string) => join(dir, name);
const passphrase = 'pkcs12 test passphrase';
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });

function makeCertificates() {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=Stratus Test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  openssl('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  writeFileSync(file('server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n');
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'server.ext');
  openssl('pkcs12', '-export', '-out', 'server.p12', '-inkey', 'server.key', '-in', 'server.crt', '-certfile', 'ca.crt', '-passout', `pass:${passphrase}`);
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  authorized?: boolean;
}

function call(options: { tls: boolean; port: number; method: string; path: string; ca?: Buffer; body?: unknown }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    const common = { host: '127.0.0.1', port: options.port, method: options.method, path: options.path, headers: body ? { 'Content-Type': 'application/json' } : {} };
    const done = (response: import('node:http').IncomingMessage) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => { text += chunk; });
      response.on('end', () => {
        const answer: Answer = { status: response.statusCode ?? 0, headers: response.headers, body: text };
        if (options.tls) answer.authorized = (response.socket as TLSSocket).authorized;
        resolve(answer);
      });
    };
    const req = options.tls
      ? httpsRequest({ ...common, servername: 'localhost', ...(options.ca ? { ca: options.ca } : {}), agent: false }, done)
      : httpRequest({ ...common, agent: false }, done);
    req.on('error', reject);
    req.end(body);
  });
}

describe('HTTPS from a PKCS12 file', () => {
  let stratus: Stratus;
  let listening: Listening;
  let dataDir: string;
  let ca: Buffer;

  beforeAll(async () => {
    makeCertificates();
    ca = readFileSync(file('ca.crt'));
    dataDir = mkdtempSync(join(tmpdir(), 'stratus-test-'));
    const config = loadConfig({
      STRATUS_DATA_DIR: dataDir, STRATUS_ADMIN_PASSWORD: adminPassword, STRATUS_HOST: '127.0.0.1', STRATUS_PORT: '0',
      STRATUS_TLS_PFX: file('server.p12'), STRATUS_TLS_PASSPHRASE: passphrase, STRATUS_HTTP_REDIRECT_PORT: '0',
    });
    stratus = await composeStratus(config, { log: pino({ level: 'silent' }) });
    listening = await listenApi(stratus.app, { port: config.port, host: config.host, tls: config.tls, httpRedirectPort: config.httpRedirectPort });
  });
  afterAll(async () => {
    await listening?.close();
    await stratus?.close();
    removeDir(dataDir);
    removeDir(dir);
  });

  it('serves the API over TLS; a client trusting the test CA verifies the chain', async () => {
    expect(listening.scheme).toBe('https');
    const login = await call({ tls: true, port: listening.port, method: 'POST', path: '/v1/sessions', ca, body: { username: 'admin', password: adminPassword } });
    expect(login.status).toBe(201);
    expect(login.authorized).toBe(true);
    expect(JSON.parse(login.body).token).toEqual(expect.any(String));
  });

  it('sends HSTS on TLS', async () => {
    const health = await call({ tls: true, port: listening.port, method: 'GET', path: '/healthz', ca });
    expect(health.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
  });

  it('is refused by a client that does not trust the CA', async () => {
    await expect(call({ tls: true, port: listening.port, method: 'GET', path: '/healthz' })).rejects.toMatchObject({ code: expect.stringMatching(/SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY/) });
  });

  it('redirects plain HTTP on the redirect port to HTTPS, keeping path and query', async () => {
    expect(listening.redirectPort).toEqual(expect.any(Number));
    const answer = await call({ tls: false, port: listening.redirectPort!, method: 'POST', path: '/v1/sessions?x=1' });
    expect(answer.status).toBe(308);
    expect(answer.headers.location).toBe(`https://127.0.0.1:${listening.port}/v1/sessions?x=1`);
    expect(answer.headers['strict-transport-security']).toBeUndefined();
  });

  it('refuses to start with a wrong passphrase, saying why', async () => {
    await expect(listenApi(stratus.app, { port: 0, host: '127.0.0.1', tls: { pfxFile: file('server.p12'), passphrase: 'wrong' }, httpRedirectPort: undefined }))
      .rejects.toThrow(/cannot use the PKCS12 file .*server\.p12/);
  });

  it('serves PEM certificate and key just as well', async () => {
    const pem = await listenApi(stratus.app, { port: 0, host: '127.0.0.1', tls: { certFile: file('server.crt'), keyFile: file('server.key') }, httpRedirectPort: undefined });
    try {
      const answer = await call({ tls: true, port: pem.port, method: 'GET', path: '/healthz', ca });
      expect(answer.authorized).toBe(true);
      expect(answer.status).toBeLessThan(500);
    } finally {
      await pem.close();
    }
  });

  it('reads the TLS settings from the environment and rejects half of a PEM pair', () => {
    expect(() => loadConfig({ STRATUS_TLS_CERT: file('server.crt') })).toThrow(/go together/);
    expect(() => loadConfig({ STRATUS_HTTP_REDIRECT_PORT: '8080' })).toThrow(/needs STRATUS_TLS/);
    expect(loadConfig({}).tls).toBeUndefined();
  });
});
