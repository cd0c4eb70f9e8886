import { describe, expect, it } from 'vitest';
import { bindLanding, encodeComponent, expandLanding } from '../../node/landing.ts';
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

  it('encodes a value exactly as encodeURIComponent does', () => {
    const chars = Array.from({ length: 128 }, (_, c) => String.fromCharCode(c)).join('') + 'üß€😀';
    for (const s of ['', 'abc-XYZ_09.!~*\'()', chars, ...Array.from(chars, (c) => `a${c}b`)]) expect(encodeComponent(s)).toBe(encodeURIComponent(s));
  });

  it('compiles a template once per link, leaving only the click id and sub-IDs to fill', () => {
    const landing = bindLanding('https://l.example/{campaign}/?a={affiliate_id}&s={sub1}{sub1}&c={click_id}#{sub2}', v);
    expect(landing('id-1', ['x y', 'no'])).toBe('https://l.example/spring%20sale/?a=aff_1&s=x%20yx%20y&c=id-1#{sub2}');
    expect(landing('id-2', [])).toBe('https://l.example/spring%20sale/?a=aff_1&s=&c=id-2#{sub2}');
  });
});

describe('sub-IDs from the query', () => {
  it('reads sub1…sub10, decodes them, ignores other keys', () => {
    const s = parseSubs('sub1=a%20b&sub10=z&sub11=no&subx=no&foo=1&sub2=c+d&sub3&sub4=%E0%A4%A');
    expect(s).toEqual(['a b', 'c d', '', '%E0%A4%A', '', '', '', '', '', 'z']);
  });

  it('reads keys the way Number() reads their digits, the last occurrence winning', () => {
    expect(parseSubs('sub01=a&sub+2=b&sub3.=c&sub0=no&sub-1=no&sub1e=no&Sub4=no&sub5=x&sub5')).toEqual(['a', 'b', 'c', '', '', '', '', '', '', '']);
    expect(parseSubs('')).toEqual(new Array(10).fill(''));
    expect(parseSubs('&&sub2=%zz&=&sub9=a+b%2Bc')).toEqual(['', '%zz', '', '', '', '', '', '', 'a b+c', '']);
  });

  it(`cuts values at ${MAX_SUB_LENGTH} characters`, () => {
    expect(parseSubs(`sub1=${'x'.repeat(1000)}`)[0]).toHaveLength(MAX_SUB_LENGTH);
  });
});
