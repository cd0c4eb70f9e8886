/** Request bodies and the SQL filters of the listing endpoints, parsed one way for every API. */
import { describe, expect, it } from 'vitest';
import { jsonBody, textField } from '../../node/requestParams.ts';
import { equalities, timeRange } from '../../schema/clickhouse/client.ts';
import { refusal } from '../kit/errors.ts';

const req = (text: string) => ({ body: Buffer.from(text, 'utf8') });

describe('jsonBody', () => {
  it('reads a JSON object; an empty body is {} only where every field is optional', () => {
    expect(jsonBody(req('{"reason":"spam","n":1}'))).toEqual({ reason: 'spam', n: 1 });
    expect(jsonBody(req(''), { optional: true })).toEqual({});
    expect(refusal(() => jsonBody(req('')))).toBe('invalid_json body is not valid JSON');
  });

  it('refuses what is not JSON, or not an object, with invalid_json', () => {
    expect(refusal(() => jsonBody(req('{not json')))).toBe('invalid_json body is not valid JSON');
    expect(refusal(() => jsonBody(req('{"reason":'), { example: '{"reason": "..."}' }))).toBe('invalid_json body must be JSON: {"reason": "..."}');
    for (const text of ['null', '[]', '"x"', '5']) {
      expect(refusal(() => jsonBody(req(text), { optional: true }))).toBe('invalid_json body must be a JSON object');
    }
  });
});

describe('textField', () => {
  it("gives '' for absent, null or empty fields unless required", () => {
    expect(textField({ by: 'ops' }, 'by', 64)).toBe('ops');
    for (const v of [undefined, null, '']) expect(textField({ reason: v }, 'reason', 1000)).toBe('');
    expect(refusal(() => textField({}, 'reason', 1000, true))).toBe('missing_field reason: is required');
  });

  it('refuses non-strings and strings over the limit', () => {
    expect(refusal(() => textField({ reason: 5 }, 'reason', 1000))).toBe('invalid_field reason: must be a string of at most 1000 characters');
    expect(textField({ by: 'x'.repeat(64) }, 'by', 64)).toHaveLength(64);
    expect(refusal(() => textField({ by: 'x'.repeat(65) }, 'by', 64))).toBe('invalid_field by: must be a string of at most 64 characters');
  });
});

describe('listing filters', () => {
  it('widens a time range to whole seconds, never before the epoch', () => {
    expect(timeRange('ts', 1_500, 2_001)).toBe('ts >= toDateTime(1) AND ts < toDateTime(3)');
    expect(timeRange('at', -86_400_000, 0)).toBe('at >= toDateTime(0) AND at < toDateTime(0)');
  });

  it('compares only the columns given a value, quoted', () => {
    expect(equalities({ affiliate_id: 'a1', brand_id: '', rule: "o'k" })).toEqual(["affiliate_id = 'a1'", "rule = 'o\\'k'"]);
    expect(equalities({ brand_id: '' })).toEqual([]);
  });
});
