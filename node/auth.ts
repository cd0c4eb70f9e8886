/**
 * Bearer-token checks. Tokens are compared through their SHA-256 digests with timingSafeEqual, so
 * neither content nor length leaks through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { AffstreamError } from '../schema/errors.ts';
import type { Catalog } from '../schema/catalogStore.ts';

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

/** Who is asking: the admin (everything) or one affiliate, through its API key (its own rows only). */
export type Scope = { all: true } | { all: false; affiliateId: string };

/** The scope of a bearer token; 401 `unauthorized` for anything else. */
export function requestScope(authorization: string | undefined, adminToken: string, catalog: Catalog): Scope {
  const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
  if (token !== undefined) {
    if (secretEquals(token, adminToken)) return { all: true };
    for (const a of catalog.affiliates.values()) {
      if (a.apiKey && secretEquals(token, a.apiKey)) return { all: false, affiliateId: a.id };
    }
  }
  throw new AffstreamError('unauthorized', 'missing or wrong bearer token (admin token or affiliate API key)');
}
