// json.test.mjs — the dashboard's lossless JSON (ui/src/json.ts, as compiled in ui/dist):
// integers past 2^53 stay exact both ways; everything else is what JSON.parse gives.
import assert from 'node:assert/strict';
import test from 'node:test';
import { parse, stringify } from '../dist/json.js';

test('integers beyond 2^53 come back as exact bigints', () => {
  const v = parse('{"count": 24739954287740860, "end": 1000000000000000001, "small": 42}');
  assert.equal(v.count, 24739954287740860n);
  assert.equal(v.end, 1000000000000000001n);
  assert.equal(v.small, 42);
  assert.equal(stringify(v), '{"count":24739954287740860,"end":1000000000000000001,"small":42}');
});

test('parses like JSON.parse otherwise', () => {
  const samples = [
    '{"a":[1,-2.5,3e2,true,false,null,"x\\"y\\u00e9\\n"],"b":{},"c":[]}',
    ' [ { "nested" : [ [ ] , { } ] } ] ',
    '"just a string"',
    '-0.125',
    '9007199254740991',
  ];
  for (const s of samples) assert.deepEqual(parse(s), JSON.parse(s), s);
});

test('rejects what is not JSON', () => {
  for (const s of ['', '{', '[1,]', '{"a" 1}', 'nul', '01', '"\u0001"', '[1] x', "{'a':1}"]) {
    assert.throws(() => parse(s), SyntaxError, JSON.stringify(s));
  }
});

test('pretty printing matches JSON.stringify for plain values', () => {
  const v = { kind: 'factorial', params: { numbers: [5, 10] }, empty: [], none: {}, s: 'é"' };
  assert.equal(stringify(v, 2), JSON.stringify(v, null, 2));
  assert.equal(stringify(v), JSON.stringify(v));
});

test('a "__proto__" key is an own property, as with JSON.parse, not the prototype', () => {
  const text = '{"__proto__":{"polluted":true},"a":1}';
  const v = parse(text);
  assert.equal(Object.getPrototypeOf(v), Object.prototype);
  assert.equal(v.polluted, undefined);
  assert.deepEqual(Object.keys(v), ['__proto__', 'a']);
  assert.deepEqual(v, JSON.parse(text));
  assert.equal(stringify(v), text);
  assert.equal({}.polluted, undefined);
});
