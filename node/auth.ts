/**
 * Bearer-token checks. Tokens are compared through their SHA-256 digests with timingSafeEqual, so
 * neither content nor length leaks through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { AffstreamError } from '../schema/errors.ts';

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Constant-time string equality. */
export function secretEquals(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/** Throws 401 `unauthorized` unless `authorization` is `Bearer <token>`. */
export function requireBearer(authorization: string | undefined, token: string): void {
  const m = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
  if (!m || !secretEquals(m[1] as string, token)) {
    throw new AffstreamError('unauthorized', 'missing or wrong bearer token');
  }
}
