import { generateSecret, generateURI, verify } from 'otplib';
import QRCode from 'qrcode';

// TOTP (RFC 6238) with the authenticator-app defaults: SHA-1, 6 digits, 30-second steps.
// A code is accepted one step either side of the server's time (clock drift of the phone),
// and the step it matched is returned so that the login ledger can refuse it a second time.

export const totpIssuer = 'Stratus';
const periodSeconds = 30;

export const newTotpSecret = (): string => generateSecret({ length: 20 });

/** The time step `code` is valid for at `nowMs`, or undefined when it is not a current code. */
export async function matchTotp(secret: string, code: string, nowMs: number): Promise<number | undefined> {
  if (!/^\d{6}$/.test(code)) return undefined;
  const result = await verify({ secret, token: code, epoch: Math.floor(nowMs / 1000), epochTolerance: periodSeconds, period: periodSeconds });
  return result.valid && 'timeStep' in result ? result.timeStep : undefined;
}

export interface TotpProvisioning {
  otpauthUri: string;
  /** The URI as a QR code, a PNG data URL an authenticator app can scan. */
  qrDataUrl: string;
}

export async function totpProvisioning(secret: string, username: string): Promise<TotpProvisioning> {
  const otpauthUri = generateURI({ issuer: totpIssuer, label: username, secret, period: periodSeconds });
  const qrDataUrl = await QRCode.toDataURL(otpauthUri, { errorCorrectionLevel: 'M', margin: 2 });
  return { otpauthUri, qrDataUrl };
}
