import { describe, expect, it } from 'vitest';
import { expandLanding } from '../../node/landing.ts';
import { MAX_SUB_LENGTH, parseSubs } from '../../node/redirect.ts';

const subs = ['a b', 'x&y=z', 'ü/?#', '', '', '', '', '', '', 'ten'];
const v = { click_id: '01a1fb40-0efa-78a7-b23e-632c6d65b1ce', affiliate_id: 'aff_1', brand_id: 'b-1', campaign: 'spring sale', subs };

describe('landing macros', () => {
  it('substitutes every macro URL-encoded', () => {
    expect(expandLanding('https://l.example/?c={click_id}&s1={sub1}&s2={sub2}&s3={sub3}&s10={sub10}&a={affiliate_id}&b={brand_id}&k={campaign}', v)).toBe(
      'https://l.example/?c=01a1fb40-0efa-78a7-b23e-632c6d65b1ce&s1=a%20b&s2=x%26y%3Dz&s3=%C3%BC%2F%3F%23&s10=ten&a=aff_1&b=b-1&k=spring%20sale',
    );
  });

  it('appends click_id when the template has none', () => {
    expect(expandLanding('https://l.example/p', v)).toBe(`https://l.example/p?click_id=${v.click_id}`);
    expect(expandLanding('https://l.example/p?x=1', v)).toBe(`https://l.example/p?x=1&click_id=${v.click_id}`);
    expect(expandLanding('https://l.example/p?', v)).toBe(`https://l.example/p?click_id=${v.click_id}`);
    expect(expandLanding('https://l.example/p?x={sub4}#top', v)).toBe(`https://l.example/p?x=&click_id=${v.click_id}#top`);
  });
});

describe('sub-IDs from the query', () => {
  it('reads sub1…sub10, decodes them, ignores other keys', () => {
    const s = parseSubs('sub1=a%20b&sub10=z&sub11=no&subx=no&foo=1&sub2=c+d&sub3&sub4=%E0%A4%A');
    expect(s).toEqual(['a b', 'c d', '', '%E0%A4%A', '', '', '', '', '', 'z']);
  });

  it(`cuts values at ${MAX_SUB_LENGTH} characters`, () => {
    expect(parseSubs(`sub1=${'x'.repeat(1000)}`)[0]).toHaveLength(MAX_SUB_LENGTH);
  });
});
