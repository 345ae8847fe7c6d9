import { pino } from 'pino';

/** Structured logs; anything that looks like a credential is censored before it is written. */
export function createLogger(level: string) {
  return pino({
    level,
    base: { service: 'stratus' },
    redact: {
      paths: ['password', '*.password', 'token', '*.token', 'secret', '*.secret', 'req.headers.authorization', 'headers.authorization'],
      censor: '***',
    },
  });
}
