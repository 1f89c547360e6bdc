// schema.test.mjs — the submit form's fields from the kinds' params JSON Schemas (ui/src/schema.ts,
// as compiled in ui/dist), read as GET /kinds serves them (utoipa's output: properties in
// alphabetical order, `$ref`s inlined) with the exact JSON parser; and how the fields' text
// becomes the request's JSON (ui/src/fields.ts).
import assert from 'node:assert/strict';
import test from 'node:test';
import { FieldError, fieldValue } from '../dist/fields.js';
import { count } from '../dist/format.js';
import { parse } from '../dist/json.js';
import { fieldOf, labelOf, paramFields, unwrap } from '../dist/schema.js';

/** A GET /kinds answer: the built-in kinds with the default bounds, and one registered elsewhere. */
const KINDS = `{"kinds": [
  {"name": "count_primes", "class": "cpu", "summary": "Count the primes in [start, end) (CPU).",
   "params": {"type": "object", "description": "Parameters of \`count_primes\`: the range [start, end).",
     "required": ["start", "end"],
     "properties": {
       "end": {"type": "integer", "format": "int64", "minimum": 1, "maximum": 1000000000000000000,
               "description": "One past the last number of the range (end ≤ 10^18)."},
       "start": {"type": "integer", "format": "int64", "minimum": 0, "maximum": 999999999999999999,
                 "description": "First number of the range (0 ≤ start < end)."}},
     "additionalProperties": false, "example": {"start": 0, "end": 1000000}},
   "result": {"type": "object"}},
  {"name": "factorial", "class": "cpu", "summary": "Digits of n!.",
   "params": {"type": "object", "description": "Parameters of \`factorial\`.", "required": ["numbers"],
     "properties": {
       "numbers": {"type": "array", "items": {"type": "integer", "format": "int64", "minimum": 0, "maximum": 10000000},
                   "minItems": 1, "maxItems": 100,
                   "description": "1 to 100 numbers, each 0 ≤ n ≤ 10,000,000 (the cap is configurable)."}},
     "additionalProperties": false, "example": {"numbers": [50000, 60000, 70000, 80000]}},
   "result": {"type": "object"}},
  {"name": "sleep", "class": "io", "summary": "Wait \`ms\` milliseconds (I/O).",
   "params": {"type": "object", "description": "Parameters of \`sleep\`.", "required": ["ms"],
     "properties": {"ms": {"type": "integer", "format": "int64", "minimum": 0, "maximum": 3600000,
                           "description": "Milliseconds to wait, 0 to 3,600,000."}},
     "additionalProperties": false, "example": {"ms": 250}},
   "result": {"type": "object"}},
  {"name": "fetch_urls", "class": "io", "summary": "Fetch URLs (I/O).",
   "params": {"type": "object", "description": "Parameters of \`fetch_urls\`.", "required": ["urls"],
     "properties": {
       "concurrency": {"type": "integer", "format": "int32", "minimum": 1, "maximum": 1000,
                       "description": "Requests of this job in flight at once, 1 to 1,000 (default 16)."},
       "retry_transient": {"type": "boolean", "default": false,
                           "description": "When some URLs fail with a transient error,\\nfail the attempt (default false)."},
       "save": {"type": "boolean",
                "description": "Keep each page that succeeded, for \`GET /jobs/{id}/files\` and \`word_count\` (default true)."},
       "url_timeout_ms": {"type": "integer", "format": "int64", "minimum": 1, "maximum": 300000,
                          "description": "Time for one URL (connect, redirects and body), 1 ms to 300,000 (default 10,000)."},
       "urls": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 10000,
                "description": "1 to 10,000 \`http\` or \`https\` URLs."}},
     "additionalProperties": false, "example": {"urls": ["https://example.com/"], "concurrency": 16}},
   "result": {"type": "object"}},
  {"name": "word_count", "class": "cpu", "summary": "Count words (CPU).",
   "params": {"type": "object", "description": "Parameters of \`word_count\`: exactly one of \`source_job\` and \`texts\`.",
     "properties": {
       "source_job": {"oneOf": [{"type": "string", "format": "uuid", "description": "A job's id: a UUID v7 (time-ordered).",
                                 "example": "01936f0e-7b5a-7cc1-9f0e-2d1c3b4a5f60"}, {"type": "null"}]},
       "texts": {"type": ["array", "null"], "items": {"type": "string"}, "maxItems": 10000,
                 "description": "Texts to count, given inline (within the request body limit), at most 10,000."},
       "top": {"type": "integer", "minimum": 0, "maximum": 100,
               "description": "How many of the most frequent words to report, 0 to 100 (default 10)."}},
     "additionalProperties": false, "example": {"texts": ["to be or not to be"], "top": 3}},
   "result": {"type": "object"}},
  {"name": "sha256_chain", "class": "cpu", "summary": "Hash \`input\` \`rounds\` times.",
   "params": {"type": "object", "required": ["input", "rounds"],
     "properties": {"input": {"type": "string"}, "rounds": {"type": "integer", "format": "int32", "minimum": 1, "maximum": 10000000}},
     "additionalProperties": false},
   "result": {"type": "object"}}
]}`;

const kinds = Object.fromEntries(parse(KINDS).kinds.map((k) => [k.name, k]));
const fields = (name) => paramFields(kinds[name].params);
const byName = (list) => Object.fromEntries(list.map((f) => [f.name, f]));

test('count_primes: two required integers, bounds exact past 2^53', () => {
  const list = fields('count_primes');
  assert.deepEqual(list.map((f) => f.name), ['start', 'end'], 'the required order, not the alphabetical one');
  const { start, end } = byName(list);
  assert.deepEqual(end, {
    name: 'end',
    path: 'params.end',
    label: 'End',
    required: true,
    type: 'int',
    min: 1,
    max: 1000000000000000000n,
    placeholder: '1000000',
    hint: `One past the last number of the range (end ≤ 10^18). 1 to ${count(10n ** 18n)}.`,
  });
  assert.equal(start.type, 'int');
  assert.equal(start.min, 0);
  assert.equal(start.max, 999999999999999999n);
  assert.equal(start.placeholder, '0');
  assert.equal(start.label, 'Start');
  assert.ok(start.hint.startsWith('First number of the range (0 ≤ start < end).'), start.hint);
  // What is typed goes out exactly.
  assert.equal(fieldValue(end, { text: '1000000000000000001' }), 1000000000000000001n);
  assert.equal(fieldValue(end, { text: ' 1000000 ' }), 1000000);
});

test('factorial: a required list of integers, comma or space separated', () => {
  const [numbers, ...rest] = fields('factorial');
  assert.equal(rest.length, 0);
  assert.equal(numbers.type, 'ints');
  assert.equal(numbers.required, true);
  assert.equal(numbers.placeholder, '50000, 60000, 70000, 80000');
  // The description gives the bounds already: not said twice.
  assert.equal(numbers.hint, '1 to 100 numbers, each 0 ≤ n ≤ 10,000,000 (the cap is configurable). Comma or space separated.');
  assert.deepEqual(fieldValue(numbers, { text: '5, 10 20,,30' }), [5, 10, 20, 30]);
  assert.throws(() => fieldValue(numbers, { text: '5, x' }), (e) => e instanceof FieldError && e.path === 'params.numbers[1]');
  assert.throws(() => fieldValue(numbers, { text: ' ' }), (e) => e instanceof FieldError && e.message === 'Required.');
});

test('factorial with bounds configured below what the description says: the bounds are added', () => {
  const schema = structuredClone(kinds.factorial.params);
  schema.properties.numbers.items.maximum = 5000;
  schema.properties.numbers.maxItems = 7;
  const [numbers] = paramFields(schema);
  assert.ok(numbers.hint.includes(`1 to 7 values, each 0 to ${count(5000)}.`), numbers.hint);
});

test('sleep: one required integer labelled from its unit', () => {
  assert.deepEqual(fields('sleep'), [{
    name: 'ms',
    path: 'params.ms',
    label: 'Milliseconds',
    required: true,
    type: 'int',
    min: 0,
    max: 3600000,
    placeholder: '250',
    hint: 'Milliseconds to wait, 0 to 3,600,000.',
  }]);
});

test('fetch_urls: lines, optional integers, checkboxes last', () => {
  const list = fields('fetch_urls');
  assert.deepEqual(list.map((f) => f.name), ['urls', 'concurrency', 'url_timeout_ms', 'retry_transient', 'save']);
  const f = byName(list);
  assert.equal(f.urls.type, 'lines');
  assert.equal(f.urls.required, true);
  assert.equal(f.urls.label, 'URLs');
  assert.equal(f.urls.placeholder, 'https://example.com/');
  assert.equal(f.urls.hint, '1 to 10,000 `http` or `https` URLs. One per line.');
  assert.deepEqual(fieldValue(f.urls, { text: ' https://a/ \r\n\nhttps://b/\n' }), ['https://a/', 'https://b/']);

  assert.equal(f.concurrency.type, 'int');
  assert.equal(f.concurrency.required, undefined);
  assert.equal(f.concurrency.min, 1);
  assert.equal(f.concurrency.max, 1000);
  assert.equal(f.concurrency.placeholder, 'e.g. 16', "an example, not the default: marked so");
  assert.equal(fieldValue(f.concurrency, { text: '' }), undefined, 'left empty: left out');

  assert.equal(f.url_timeout_ms.label, 'URL timeout (ms)');
  assert.equal(f.url_timeout_ms.placeholder, undefined);
  assert.equal(f.url_timeout_ms.max, 300000);

  // A default in the schema: a plain checkbox, sent as shown.
  assert.equal(f.retry_transient.type, 'bool');
  assert.equal(f.retry_transient.checked, false);
  assert.equal(f.retry_transient.unset, undefined);
  assert.equal(f.retry_transient.hint, 'When some URLs fail with a transient error, fail the attempt (default false).');
  assert.equal(fieldValue(f.retry_transient, { text: 'on', checked: false }), false);

  // No default and no example: unset, and left out until clicked (the server saves by default).
  assert.equal(f.save.type, 'bool');
  assert.equal(f.save.unset, true);
  assert.equal(f.save.checked, false);
  assert.ok(f.save.hint.startsWith('Keep each page that succeeded'), f.save.hint);
  assert.equal(fieldValue(f.save, { text: 'on', checked: false, indeterminate: true }), undefined);
  assert.equal(fieldValue(f.save, { text: 'on', checked: true }), true);
  assert.equal(fieldValue(f.save, { text: 'on', checked: false }), false);
});

test("a boolean's state: the default, else the kind's example, else unset", () => {
  const schema = (save, example) => ({
    type: 'object', properties: { save: { type: 'boolean', ...save } }, ...(example ? { example } : {}),
  });
  assert.equal(paramFields(schema({ default: true }))[0].checked, true);
  assert.equal(paramFields(schema({ default: true }, { save: false }))[0].checked, true, 'the default wins');
  const fromExample = paramFields(schema({}, { save: true }))[0];
  assert.equal(fromExample.checked, true);
  assert.equal(fromExample.unset, undefined);
  assert.equal(paramFields(schema({}))[0].unset, true);
  // A required one has no "unset": unchecked is false, and sent.
  const required = paramFields({ ...schema({}), required: ['save'] })[0];
  assert.equal(required.unset, undefined);
  assert.equal(required.checked, false);
  assert.equal(fieldValue(required, { text: 'on', checked: false }), false);
});

test('word_count: nullable unions, a job id, all optional', () => {
  const list = fields('word_count');
  assert.deepEqual(list.map((f) => f.name), ['source_job', 'texts', 'top']);
  const f = byName(list);
  assert.deepEqual(f.source_job, {
    name: 'source_job',
    path: 'params.source_job',
    label: 'Source job',
    type: 'text',
    placeholder: 'a job id',
    hint: "A job's id: a UUID v7 (time-ordered).",
  });
  assert.equal(f.texts.type, 'lines');
  assert.equal(f.texts.required, undefined);
  assert.equal(f.texts.placeholder, 'e.g. to be or not to be');
  assert.equal(f.texts.hint, 'Texts to count, given inline (within the request body limit), at most 10,000. One per line.');
  assert.equal(f.top.type, 'int');
  assert.equal(f.top.placeholder, 'e.g. 3');
  assert.equal(f.top.max, 100);
  for (const field of list) assert.equal(fieldValue(field, { text: '' }), undefined, field.name);
});

test('a kind the dashboard has no code for gets its form from its schema', () => {
  const list = fields('sha256_chain');
  assert.deepEqual(list, [
    { name: 'input', path: 'params.input', label: 'Input', required: true, type: 'text' },
    { name: 'rounds', path: 'params.rounds', label: 'Rounds', required: true, type: 'int', min: 1, max: 10000000, hint: `1 to ${count(10000000)}.` },
  ]);
  assert.equal(fieldValue(list[0], { text: ' abc ' }), 'abc');
});

test('unions: a null branch is dropped wherever it is; real unions become JSON', () => {
  const cases = [
    { type: ['integer', 'null'], minimum: 2 },
    { oneOf: [{ type: 'null' }, { type: 'integer', minimum: 2 }] },
    { anyOf: [{ type: 'integer', minimum: 2 }, { type: 'null' }] },
    { allOf: [{ type: 'integer', minimum: 2 }] },
    { anyOf: [{ allOf: [{ type: 'integer', minimum: 2 }] }, { type: ['null'] }] },
  ];
  for (const schema of cases) {
    const field = fieldOf('n', schema, false);
    assert.equal(field.type, 'int', JSON.stringify(schema));
    assert.equal(field.min, 2, JSON.stringify(schema));
  }
  // The property's own description wins over its branch's.
  const described = unwrap({ description: 'outer', oneOf: [{ type: 'string', description: 'inner' }, { type: 'null' }] });
  assert.equal(described.description, 'outer');
  assert.equal(described.type, 'string');
  assert.equal(fieldOf('x', { oneOf: [{ type: 'string' }, { type: 'integer' }] }, false).type, 'json');
  assert.equal(fieldOf('x', { type: ['string', 'integer'] }, false).type, 'json');
  assert.equal(fieldOf('x', { type: 'string', enum: ['a', 'b', null] }, false).type, 'choice');
});

test('bounds past 2^53 stay exact, exclusive bounds included', () => {
  const schema = parse('{"type": "integer", "exclusiveMinimum": 9007199254740993, "exclusiveMaximum": 18446744073709551616}');
  const field = fieldOf('big', schema, true);
  assert.equal(field.min, 9007199254740994n);
  assert.equal(field.max, 18446744073709551615n);
  const safe = fieldOf('n', { type: 'integer', exclusiveMinimum: 0, maximum: 9.5 }, true);
  assert.equal(safe.min, 1);
  assert.equal(safe.max, 9);
  assert.equal(fieldValue(field, { text: '18446744073709551615' }), 18446744073709551615n);
});

test('other shapes: choices, numbers, job ids, and JSON for the rest', () => {
  const schema = parse(`{"type": "object", "required": ["mode", "config"], "properties": {
    "mode": {"type": "string", "enum": ["fast", "slow"], "default": "slow", "title": "Speed"},
    "config": {"type": "object", "properties": {"depth": {"type": "integer"}}, "description": "Tuning."},
    "ratio": {"type": "number", "minimum": 0, "maximum": 1},
    "after": {"type": "array", "items": {"type": "string", "format": "uuid"}},
    "pairs": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}},
    "name": {"type": "string", "maxLength": 64}},
    "example": {"mode": "fast", "config": {"depth": 12345678901234567890}}}`);
  const f = byName(paramFields(schema));
  assert.deepEqual(f.mode, { name: 'mode', path: 'params.mode', label: 'Speed', required: true, type: 'choice', options: ['fast', 'slow'], value: 'slow' });
  assert.equal(f.config.type, 'json');
  assert.equal(f.config.placeholder, '{"depth":12345678901234567890}');
  assert.equal(f.config.hint, 'Tuning. As JSON.');
  assert.deepEqual(fieldValue(f.config, { text: '{"depth": 12345678901234567890}' }), { depth: 12345678901234567890n });
  assert.throws(() => fieldValue(f.config, { text: '{depth: 1}' }), (e) => e instanceof FieldError && e.path === 'params.config');
  assert.equal(f.ratio.type, 'number');
  assert.equal(fieldValue(f.ratio, { text: '0.25' }), 0.25);
  assert.throws(() => fieldValue(f.ratio, { text: '"a"' }), FieldError);
  assert.equal(f.after.type, 'ids');
  assert.equal(f.after.placeholder, 'job ids, comma or space separated');
  assert.equal(f.pairs.type, 'json');
  assert.equal(f.name.type, 'text');
  assert.equal(f.name.hint, `At most ${count(64)} characters.`);
  assert.equal(fieldValue(f.mode, { text: 'fast' }), 'fast');
  assert.throws(() => fieldValue(f.mode, { text: '' }), (e) => e instanceof FieldError && e.message === 'Required.');
});

test('required and optional: from `required`, unknown names in it ignored', () => {
  const schema = {
    type: 'object', required: ['b', 'ghost', 'constructor'],
    properties: { a: { type: 'integer' }, b: { type: 'integer' }, c: { type: 'string' } },
  };
  const list = paramFields(schema);
  assert.deepEqual(list.map((f) => [f.name, f.required ?? false]), [['b', true], ['a', false], ['c', false]]);
  assert.throws(() => fieldValue(list[0], { text: '' }), (e) => e instanceof FieldError && e.path === 'params.b' && e.message === 'Required.');
  assert.equal(fieldValue(list[1], { text: '' }), undefined);
});

test('params that are not an object of properties: one JSON field for the whole params', () => {
  const whole = paramFields({ oneOf: [{ type: 'object', properties: { a: { type: 'integer' } } }, { type: 'object', properties: { b: { type: 'string' } } }], example: { a: 1 } });
  assert.equal(whole.length, 1);
  assert.equal(whole[0].path, 'params');
  assert.equal(whole[0].type, 'json');
  assert.equal(whole[0].placeholder, '{"a":1}');
  assert.deepEqual(paramFields({ type: 'object' }).map((f) => f.path), ['params'], 'any object');
  assert.deepEqual(paramFields({ type: 'object', properties: {}, additionalProperties: false }), [], 'no params at all');
  assert.deepEqual(paramFields({ type: 'object', additionalProperties: false }), [], 'no params at all');
  assert.deepEqual(paramFields({ type: 'array', items: { type: 'integer' } }).map((f) => f.path), ['params']);
  assert.deepEqual(paramFields(null).map((f) => f.path), ['params']);
});

test('labels from names, unless the schema gives a title', () => {
  const cases = {
    url_timeout_ms: 'URL timeout (ms)',
    ms: 'Milliseconds',
    source_job: 'Source job',
    retry_transient: 'Retry transient',
    maxUrls: 'Max URLs',
    job_ids: 'Job IDs',
    size_bytes: 'Size (bytes)',
    top: 'Top',
  };
  for (const [name, label] of Object.entries(cases)) assert.equal(labelOf(name), label, name);
  assert.equal(fieldOf('top', { type: 'integer', title: 'Top words' }, false).label, 'Top words');
});
