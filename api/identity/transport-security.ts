import type { NextFunction, Request, Response } from 'express';

// HSTS (RFC 6797): once a browser has reached the API over TLS, it must not fall back to plain
// HTTP for a year. Sent only on secure requests — a header over plain HTTP is ignored anyway,
// and `req.secure` also covers TLS ended at a trusted proxy (X-Forwarded-Proto).
const hsts = 'max-age=31536000; includeSubDomains';

export function strictTransportSecurity() {
  return (req: Request, res: Response, next: NextFunction) => {
    if (req.secure) res.setHeader('Strict-Transport-Security', hsts);
    next();
  };
}
