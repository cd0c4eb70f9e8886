/**
 * Assertions on thrown errors: the error a validation refused with, of the expected class, so a
 * test checks the refusal itself (code, message, key) and not merely that something threw.
 */
import { expect } from 'vitest';
import { AffstreamError } from '../../schema/errors.ts';

/** The error `fn` throws, which must be an instance of `type`; fails the test when `fn` returns. */
export function thrown<E extends Error>(fn: () => unknown, type: abstract new (...args: never[]) => E): E {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(type);
    return err as E;
  }
  throw new Error(`expected a ${type.name}`);
}

/** `<code> <message>` of the {@link AffstreamError} `fn` throws. */
export function refusal(fn: () => unknown): string {
  const err = thrown(fn, AffstreamError);
  return `${err.code} ${err.message}`;
}
