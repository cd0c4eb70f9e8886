/** The `postbacks` config section (docs/configuration.md): defaults, environment overrides, validation naming the key. */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../schema/config.ts';
import { ConfigError } from '../../schema/errors.ts';
import { thrown } from '../kit/errors.ts';

describe('postbacks config', () => {
  it('defaults to a 24 h retry time and 10 failures in 72 h', () => {
    expect(loadConfig({}, {}).postbacks).toEqual({
      requestTimeoutMs: 10_000, concurrency: 64, endpointConcurrency: 8, backoffBaseMs: 30_000, backoffMaxMs: 3_600_000,
      retryForMs: 86_400_000, disableAfter: 10, disableWindowMs: 259_200_000, disabledRecheckMs: 60_000,
    });
  });

  it('takes environment overrides', () => {
    const c = loadConfig({ postbacks: { backoffBaseMs: 1000 } }, { AFFSTREAM_POSTBACK_TIMEOUT_MS: '2500', AFFSTREAM_POSTBACK_DISABLE_AFTER: '5', AFFSTREAM_POSTBACK_BACKOFF_MAX_MS: '4000' });
    expect(c.postbacks).toMatchObject({ requestTimeoutMs: 2500, disableAfter: 5, backoffBaseMs: 1000, backoffMaxMs: 4000 });
  });

  it('refuses values out of range, naming key, value and what is allowed', () => {
    const refused = (input: Parameters<typeof loadConfig>[0], env: Record<string, string> = {}) => thrown(() => loadConfig(input, env), ConfigError);
    expect(refused({ postbacks: { concurrency: 4, endpointConcurrency: 8 } })).toMatchObject({ key: 'postbacks.endpointConcurrency', value: 8, allowed: 'an integer from 1 to 4' });
    expect(refused({ postbacks: { backoffBaseMs: 5000, backoffMaxMs: 1000 } }).key).toBe('postbacks.backoffMaxMs');
    expect(refused({}, { AFFSTREAM_POSTBACK_RETRY_FOR_MS: 'soon' }).message).toContain('AFFSTREAM_POSTBACK_RETRY_FOR_MS');
    expect(refused({ postbacks: { retryFor: 1 } as never }).allowed).toContain('postbacks.retryForMs');
  });
});
