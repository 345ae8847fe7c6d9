// POST with a JSON body over node:http and a keep-alive agent, answered with status and JSON
// body: the benchmarks' HTTP client (fetch/undici costs the client about twice the CPU per
// request, which would colour the server's figures).
import { request, type Agent } from 'node:http';

export type JsonPost = (path: string, body: object, headers: Record<string, string>) => Promise<{ status: number; body: any }>;

export function jsonPost(base: string, agent: Agent): JsonPost {
  return (path, body, headers) =>
    new Promise((resolve, reject) => {
      const payload = JSON.stringify(body);
      const outgoing = request(`${base}${path}`, {
        method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...headers },
      }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          try {
            resolve({ status: response.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') });
          } catch (error) {
            reject(error);
          }
        });
        response.on('error', reject);
      });
      outgoing.on('error', reject);
      outgoing.end(payload);
    });
}
