// Reading an image's bytes from where it was registered (file:// URL, absolute path, or
// http(s):// URL) and hashing them as they stream, so a large image is never held in memory.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HypervisorError } from './port.js';

export interface ImageDigest {
  sha256: string;
  sizeBytes: number;
}

/** Streams the image through `sink` (if any) and returns its sha256 and size. */
export async function digestImage(
  url: string,
  options: { signal?: AbortSignal; sink?: (chunk: Uint8Array) => void | Promise<void> } = {},
): Promise<ImageDigest> {
  const hash = createHash('sha256');
  let sizeBytes = 0;
  const take = async (chunk: Uint8Array) => {
    hash.update(chunk);
    sizeBytes += chunk.byteLength;
    if (options.sink) await options.sink(chunk);
  };
  if (/^https?:\/\//i.test(url)) {
    let response: Response;
    try {
      response = await fetch(url, options.signal ? { signal: options.signal } : {});
    } catch (error) {
      throw new HypervisorError('IMAGE_FETCH_FAILED', `could not fetch ${redactUrl(url)}: ${messageOf(error)}`);
    }
    if (response.status === 404 || response.status === 410) {
      throw new HypervisorError('IMAGE_NOT_FOUND', `${redactUrl(url)} answered ${response.status}`);
    }
    if (!response.ok || !response.body) {
      throw new HypervisorError('IMAGE_FETCH_FAILED', `${redactUrl(url)} answered ${response.status}`);
    }
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) await take(chunk);
    } catch (error) {
      throw new HypervisorError('IMAGE_FETCH_FAILED', `download of ${redactUrl(url)} broke off: ${messageOf(error)}`);
    }
    return { sha256: hash.digest('hex'), sizeBytes };
  }
  const path = localPathOf(url);
  try {
    const stream = createReadStream(path, options.signal ? { signal: options.signal } : {});
    for await (const chunk of stream as AsyncIterable<Buffer>) await take(chunk);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR') throw new HypervisorError('IMAGE_NOT_FOUND', `no image file at ${path}`);
    throw new HypervisorError('IMAGE_FETCH_FAILED', `could not read ${path}: ${messageOf(error)}`);
  }
  return { sha256: hash.digest('hex'), sizeBytes };
}

function localPathOf(url: string): string {
  if (url.startsWith('file:')) {
    try {
      return fileURLToPath(url);
    } catch (error) {
      throw new HypervisorError('IMAGE_NOT_FOUND', `not a usable file URL: ${messageOf(error)}`);
    }
  }
  if (isAbsolute(url)) return url;
  throw new HypervisorError('IMAGE_NOT_FOUND', `unsupported image location (use file://, http:// or https://): ${redactUrl(url)}`);
}

/** Credentials in a URL never reach a message. */
function redactUrl(url: string): string {
  return url.replace(/\/\/[^/@]*@/, '//***@');
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));
