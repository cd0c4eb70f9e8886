/** Outbound postback URLs (docs/commissions.md, “Outbound postbacks”): every macro replaced and URL-encoded. */
import { describe, expect, it } from 'vitest';
import { POSTBACK_MACROS, type PostbackJob } from '../../schema/commissions.ts';
import { macroValues, needsClickSubs, renderPostbackUrl } from '../../workers/postbacks/render.ts';

const job: PostbackJob = {
  id: 'c1.2', commissionId: 'c1', version: 2, brandId: 'b1', affiliateId: 'a1', playerId: 'p1', kind: 'cpa', status: 'approved',
  event: 'cpa', payout: '25.5000', currency: 'EUR', txid: 'ftd-9', clickId: '0190f0a0-0000-7abc-8000-000000000001', sub1: 'one+two', at: 0,
};
const subs = ['stored-sub1', 'a b&c=d/é', '3', '4', '5', '6', '7', '8', '9', 'x?y#z'];

describe('renderPostbackUrl', () => {
  it('replaces every macro with its URL-encoded value', () => {
    const template = 'https://aff.example/pb?cid={click_id}&s1={sub1}&s2={sub2}&s10={sub10}&e={event}&st={status}&p={payout}&c={currency}&tx={txid}';
    expect(renderPostbackUrl(template, macroValues(job, subs))).toBe(
      'https://aff.example/pb?cid=0190f0a0-0000-7abc-8000-000000000001&s1=one%2Btwo&s2=a%20b%26c%3Dd%2F%C3%A9&s10=x%3Fy%23z&e=cpa&st=approved&p=25.5000&c=EUR&tx=ftd-9',
    );
  });

  it('knows every macro of the contract and leaves other braces alone', () => {
    const template = POSTBACK_MACROS.map((m) => `{${m}}`).join('/');
    const out = renderPostbackUrl(`https://x.example/${template}?{unknown}&{Sub1}`, macroValues(job, subs));
    for (const m of POSTBACK_MACROS) expect(out).not.toContain(`{${m}}`);
    expect(out).toContain(`/ftd-9/${job.commissionId}/${job.version}?{unknown}&{Sub1}`);
  });

  it('names the line and the version of its change, so a tracker can order changes', () => {
    expect(renderPostbackUrl('http://x/?id={commission_id}&v={version}', macroValues(job, subs))).toBe(`http://x/?id=${job.commissionId}&v=${job.version}`);
  });

  it('a macro that appears twice is replaced twice', () => {
    expect(renderPostbackUrl('http://x/?a={status}&b={status}', macroValues(job, subs))).toBe('http://x/?a=approved&b=approved');
  });
});

describe('macroValues', () => {
  it("takes sub1 from the job, sub2…sub10 from the click; the click's sub1 only when the job has none", () => {
    const v = macroValues(job, subs);
    expect([v.sub1, v.sub2, v.sub10]).toEqual(['one+two', 'a b&c=d/é', 'x?y#z']);
    expect(macroValues({ ...job, sub1: '' }, subs).sub1).toBe('stored-sub1');
  });

  it('a click not found gives empty subs', () => {
    const v = macroValues(job, undefined);
    expect(v.sub1).toBe('one+two');
    expect(Array.from({ length: 9 }, (_, i) => v[`sub${i + 2}` as 'sub2'])).toEqual(Array(9).fill(''));
  });
});

describe('needsClickSubs', () => {
  it('is true only for templates using sub2…sub10', () => {
    expect(needsClickSubs('http://x/?a={sub1}&c={click_id}')).toBe(false);
    expect(needsClickSubs('http://x/?a={sub2}')).toBe(true);
    expect(needsClickSubs('http://x/?a={sub10}')).toBe(true);
    expect(needsClickSubs('http://x/?a={sub11}')).toBe(false);
  });
});
