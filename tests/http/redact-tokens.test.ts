// Host tokens in URLs (/built?token=...) never reach the log, however the parameter name is spelled.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redactTokens } from '../../src/http/app.js';

test('every spelling of the token parameter that the query parser reads as `token` is redacted', () => {
  const secret = '8015f7e7aa55';
  const cases: Array<[string, string]> = [
    [`/built?build=metal/web01&token=${secret}`, '/built?build=metal/web01&token=<redacted>'],
    [`/built?token=${secret}&build=metal/web01`, '/built?token=<redacted>&build=metal/web01'],
    [`/built?build=metal/web01&tok%65n=${secret}`, '/built?build=metal/web01&tok%65n=<redacted>'],
    [`/built?%74%6F%6B%65%6E=${secret}`, '/built?%74%6F%6B%65%6E=<redacted>'],
    [`/built?token=${secret}&token=${secret}`, '/built?token=<redacted>&token=<redacted>'],
    [`/built?%E0%A4%A=${secret}`, '/built?%E0%A4%A=<redacted>'], // undecodable name: redacted to be safe
  ];
  for (const [url, logged] of cases) {
    assert.equal(redactTokens(url), logged);
    assert.ok(!redactTokens(url).includes(secret), url);
  }
  assert.equal(redactTokens('/ks?build=virtual/aws&os=CentOS-7.6.1810'), '/ks?build=virtual/aws&os=CentOS-7.6.1810');
  assert.equal(redactTokens('/built?build=metal/web01&tokens=1'), '/built?build=metal/web01&tokens=1');
  assert.equal(redactTokens('/healthz'), '/healthz');
});
