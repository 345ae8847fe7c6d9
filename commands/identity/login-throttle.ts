import type { Clock } from '../../adapters/clock/port.js';

// Failed authentications per client address: a token bucket of `attempts` tokens that
// refills evenly over `windowMs`. A failure takes a token; with none left, the address is
// answered 429 until one has refilled. Only failures are charged, so a busy NAT of users who
// type their password right is never throttled, and concurrent good requests cannot starve
// each other. The buckets live in this process: each API process of a scale-out deployment
// limits on its own (the lockout, which is in the event store, is the global guard).

export interface ThrottleLimits {
  attempts: number;
  windowMs: number;
}

export type ThrottleVerdict =
  | { allowed: true }
  /** `firstRefusal`: the first refusal since the address ran dry, the one worth an audit entry. */
  | { allowed: false; retryAfterSeconds: number; firstRefusal: boolean };

export interface LoginThrottle {
  check(address: string, limits: ThrottleLimits): ThrottleVerdict;
  /** Charges one failure to the address. */
  fail(address: string, limits: ThrottleLimits): void;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
  refusalRecorded: boolean;
}

const maxTrackedAddresses = 100_000;

export function createLoginThrottle(clock: Clock): LoginThrottle {
  const buckets = new Map<string, Bucket>();

  function refill(address: string, limits: ThrottleLimits): Bucket {
    const now = clock.now();
    const bucket = buckets.get(address) ?? { tokens: limits.attempts, updatedAt: now, refusalRecorded: false };
    // A clock set back (NTP) refills nothing rather than draining the bucket.
    const elapsed = Math.max(0, now - bucket.updatedAt);
    const refilled = Math.min(limits.attempts, bucket.tokens + (elapsed * limits.attempts) / limits.windowMs);
    bucket.tokens = refilled;
    bucket.updatedAt = now;
    if (refilled >= 1) bucket.refusalRecorded = false;
    return bucket;
  }

  function forgetFullBuckets(limits: ThrottleLimits) {
    for (const [address] of buckets) {
      if (refill(address, limits).tokens >= limits.attempts) buckets.delete(address);
    }
  }

  return {
    check(address, limits) {
      const bucket = refill(address, limits);
      if (bucket.tokens >= 1) return { allowed: true };
      const firstRefusal = !bucket.refusalRecorded;
      bucket.refusalRecorded = true;
      buckets.set(address, bucket);
      const retryAfterSeconds = Math.max(1, Math.ceil(((1 - bucket.tokens) * limits.windowMs) / limits.attempts / 1000));
      return { allowed: false, retryAfterSeconds, firstRefusal };
    },
    fail(address, limits) {
      const bucket = refill(address, limits);
      bucket.tokens = Math.max(0, bucket.tokens - 1);
      buckets.set(address, bucket);
      if (buckets.size > maxTrackedAddresses) forgetFullBuckets(limits);
    },
  };
}
