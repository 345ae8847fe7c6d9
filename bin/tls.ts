import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type ServerOptions } from 'node:https';
import { createSecureContext } from 'node:tls';
import type { TlsConfig } from './config.js';

// Serving the API over HTTPS (reference/001, "HTTPS-encrypted UI Login": PKCS12 certificates
// by default), or PEM for those who have PEM. HSTS is set by the app on secure requests.

/** Reads the certificate files and checks that they open (a wrong passphrase fails here, at start). */
export function tlsServerOptions(tls: TlsConfig): ServerOptions {
  const options: ServerOptions = tls.pfxFile
    ? { pfx: readFileSync(tls.pfxFile) }
    : { cert: readFileSync(tls.certFile!), key: readFileSync(tls.keyFile!) };
  if (tls.passphrase) options.passphrase = tls.passphrase;
  try {
    createSecureContext(options);
  } catch (error) {
    const what = tls.pfxFile ? `the PKCS12 file ${tls.pfxFile}` : `the certificate ${tls.certFile} and key ${tls.keyFile}`;
    throw new Error(`cannot use ${what}: ${(error as Error).message} (is STRATUS_TLS_PASSPHRASE right?)`);
  }
  return { ...options, minVersion: 'TLSv1.2' };
}

const hostPattern = /^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])$/;

/** Answers every plain-HTTP request with a permanent redirect (308 keeps the method and body) to the HTTPS port. */
export function redirectToHttps(httpsPort: number, fallbackHost: string): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    const requested = (req.headers.host ?? '').replace(/:\d+$/, '');
    const host = hostPattern.test(requested) ? requested : fallbackHost;
    const path = (req.url ?? '/').startsWith('/') ? req.url ?? '/' : '/';
    res.writeHead(308, { Location: `https://${host}${httpsPort === 443 ? '' : `:${httpsPort}`}${path}`, 'Content-Length': '0' });
    res.end();
  };
}

function listenOn(server: Server, port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

export interface Listening {
  server: Server;
  scheme: 'http' | 'https';
  port: number;
  redirect?: Server;
  redirectPort?: number;
  close(): Promise<void>;
}

const portOf = (server: Server, fallback: number) => {
  const address = server.address();
  return typeof address === 'object' && address ? address.port : fallback;
};

/** Listens with TLS when configured (and the redirect port if asked), plain HTTP otherwise. */
export async function listenApi(app: RequestListener, options: { port: number; host: string; tls: TlsConfig | undefined; httpRedirectPort: number | undefined }): Promise<Listening> {
  const server = options.tls ? createHttpsServer(tlsServerOptions(options.tls), app) : createHttpServer(app);
  await listenOn(server, options.port, options.host);
  const port = portOf(server, options.port);
  const listening: Listening = {
    server,
    scheme: options.tls ? 'https' : 'http',
    port,
    async close() {
      const servers = [server, ...(listening.redirect ? [listening.redirect] : [])];
      await Promise.all(servers.map((each) => new Promise<void>((resolve) => {
        each.close(() => resolve());
        each.closeAllConnections?.();
      })));
    },
  };
  if (options.tls && options.httpRedirectPort !== undefined) {
    const fallbackHost = options.host === '0.0.0.0' || options.host === '::' ? 'localhost' : options.host;
    listening.redirect = await listenOn(createHttpServer(redirectToHttps(port, fallbackHost)), options.httpRedirectPort, options.host);
    listening.redirectPort = portOf(listening.redirect, options.httpRedirectPort);
  }
  return listening;
}
