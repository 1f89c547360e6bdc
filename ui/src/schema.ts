// schema.ts — a kind's params JSON Schema (GET /kinds: with this server's bounds, references
// inlined) read as the submit form's fields. Integers, lists of integers, lines of text, job
// ids, checkboxes and choices map to inputs; whatever else to a JSON text area. Nothing here
// knows a kind by its name: a kind registered tomorrow gets its form from its schema alone.

import type { FieldSpec, FieldType } from './fields.js';
import { count } from './format.js';
import { type Json, stringify } from './json.js';

/** A JSON Schema object (booleans `true`/`false` as schemas map to the JSON field). */
export type Schema = { [key: string]: Json };

type Int = number | bigint;

function isSchema(v: Json | undefined): v is Schema {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function own(obj: Schema, key: string): Json | undefined {
  return Object.prototype.hasOwnProperty.call(obj, key) ? obj[key] : undefined;
}

function str(v: Json | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** A schema that allows only null: a union's null branch. */
function isNull(s: Json): boolean {
  if (!isSchema(s)) return false;
  const t = s.type;
  return t === 'null' || (Array.isArray(t) && t.length === 1 && t[0] === 'null') || ('const' in s && s.const === null)
    || (Array.isArray(s.enum) && s.enum.length === 1 && s.enum[0] === null);
}

/** One step of {@link unwrap}; `s` itself when there is nothing to take away. */
function unwrapStep(s: Schema): Schema {
  const type = s.type;
  if (Array.isArray(type) && type.includes('null')) {
    const rest = type.filter((t) => t !== 'null');
    if (rest.length === 1) return { ...s, type: rest[0] ?? null };
  }
  if (Array.isArray(s.enum) && s.enum.length > 1 && s.enum.includes(null)) {
    return { ...s, enum: s.enum.filter((v) => v !== null) };
  }
  for (const key of ['allOf', 'oneOf', 'anyOf']) {
    const branches = s[key];
    if (!Array.isArray(branches)) continue;
    const kept = key === 'allOf' ? branches : branches.filter((b) => !isNull(b));
    const only = kept[0];
    if (kept.length !== 1 || !isSchema(only)) continue;
    const outer: Schema = { ...s };
    delete outer[key];
    // The property's own words (its description, default) win over the branch's.
    return { ...only, ...outer };
  }
  return s;
}

/**
 * `s` without what only lets null in: `type: ["x", "null"]` becomes `type: "x"`; a `oneOf` or
 * `anyOf` of one branch and null branches, or an `allOf` of one, becomes that branch (under
 * the outer annotations). Unions of several real branches stay (they map to JSON).
 */
export function unwrap(s: Schema): Schema {
  let out = s;
  for (let depth = 0; depth < 8; depth++) {
    const next = unwrapStep(out);
    if (next === out) break;
    out = next;
  }
  return out;
}

// --- labels and hints --------------------------------------------------------------------------

const ACRONYMS: Record<string, string> = {
  api: 'API', cpu: 'CPU', http: 'HTTP', https: 'HTTPS', id: 'ID', ids: 'IDs', io: 'I/O', ip: 'IP',
  json: 'JSON', uri: 'URI', uris: 'URIs', url: 'URL', urls: 'URLs', uuid: 'UUID',
};
/** Units a name may end with: shown in parentheses, or spelled out when they are the whole name. */
const UNITS: Record<string, [string, string]> = {
  ms: ['ms', 'Milliseconds'], secs: ['s', 'Seconds'], bytes: ['bytes', 'Bytes'],
};

/** A readable label for a param's name: `url_timeout_ms` → `URL timeout (ms)`, `source_job` → `Source job`. */
export function labelOf(name: string): string {
  const words = name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase().split(/[_\-\s]+/).filter((w) => w !== '');
  const first = words[0];
  if (first === undefined) return name;
  const last = words[words.length - 1] ?? '';
  const unit = UNITS[last];
  if (unit && words.length === 1) return unit[1];
  const body = (unit ? words.slice(0, -1) : words).map((w, i) => ACRONYMS[w] ?? (i === 0 ? w.charAt(0).toUpperCase() + w.slice(1) : w));
  return unit ? `${body.join(' ')} (${unit[0]})` : body.join(' ');
}

function describe(s: Schema): string | undefined {
  const text = str(s.description)?.replace(/\s+/g, ' ').trim();
  return text || undefined;
}

/** Whether `text` writes the number `n` (in any digit grouping: `10,000`, `10000`, `10 000`). */
function mentions(text: string | undefined, n: Int | undefined): boolean {
  if (!text || n === undefined) return false;
  const numbers = text.match(/\d(?:[\d,._\u00a0\u202f\u2009]*\d)?/g) ?? [];
  return numbers.some((m) => m.replace(/\D/g, '') === n.toString());
}

/** `0 to 100`, `at least 1`, `at most 10,000`; null without bounds. */
function range(lo: Int | undefined, hi: Int | undefined): string | null {
  if (lo !== undefined && hi !== undefined) return `${count(lo)} to ${count(hi)}`;
  if (lo !== undefined) return `at least ${count(lo)}`;
  if (hi !== undefined) return `at most ${count(hi)}`;
  return null;
}

/** `1 to 100 values`, `at most 1 value`: a {@link range} of things. */
function counted(lo: Int | undefined, hi: Int | undefined, noun: string): string | null {
  const text = range(lo, hi);
  if (!text) return null;
  const one = (hi ?? lo)?.toString() === '1';
  return `${text} ${noun}${one ? '' : 's'}`;
}

/** `text` as a sentence: capitalised, with a full stop. */
function sentence(text: string | null): string | null {
  return text ? `${text.charAt(0).toUpperCase()}${text.slice(1)}.` : null;
}

/** The bounds as a sentence, unless the description already gives them. */
function boundsSentence(desc: string | undefined, lo: Int | undefined, hi: Int | undefined): string | null {
  return mentions(desc, hi ?? lo) ? null : sentence(range(lo, hi));
}

function sentences(...parts: Array<string | null | undefined>): string | undefined {
  const text = parts.filter((p): p is string => !!p).join(' ');
  return text || undefined;
}

// --- bounds ------------------------------------------------------------------------------------

function plusOne(v: Int, step: 1 | -1): Int {
  if (typeof v === 'bigint') return v + BigInt(step);
  const n = v + step;
  return Number.isSafeInteger(n) ? n : BigInt(v) + BigInt(step);
}

/** An integer bound from a schema number: rounded inwards (a bound of 0.5 for integers is 1). */
function intBound(v: Json | undefined, up: boolean): Int | undefined {
  if (typeof v === 'bigint') return v;
  if (typeof v !== 'number' || !Number.isFinite(v)) return undefined;
  const n = up ? Math.ceil(v) : Math.floor(v);
  return Number.isSafeInteger(n) ? n : BigInt(n);
}

/** The smallest and largest integer `s` allows (JSON Schema 2020-12: exclusive bounds are numbers). */
function intRange(s: Schema): [Int | undefined, Int | undefined] {
  let lo = intBound(s.minimum, true);
  let hi = intBound(s.maximum, false);
  const exLo = intBound(s.exclusiveMinimum, false);
  const exHi = intBound(s.exclusiveMaximum, true);
  if (exLo !== undefined) {
    const b = plusOne(exLo, 1);
    if (lo === undefined || b > lo) lo = b;
  }
  if (exHi !== undefined) {
    const b = plusOne(exHi, -1);
    if (hi === undefined || b < hi) hi = b;
  }
  return [lo, hi];
}

function numberBound(v: Json | undefined): Int | undefined {
  return typeof v === 'number' || typeof v === 'bigint' ? v : undefined;
}

function countBound(v: Json | undefined): Int | undefined {
  return intBound(v, true);
}

// --- placeholders ------------------------------------------------------------------------------

/** A value as the field's text, or undefined when the field could not hold it. */
function shown(type: FieldType, v: Json): string | undefined {
  switch (type) {
    case 'int':
    case 'number':
      return typeof v === 'number' || typeof v === 'bigint' ? String(v) : undefined;
    case 'ints':
      return Array.isArray(v) && v.every((x) => typeof x === 'number' || typeof x === 'bigint') ? v.join(', ') : undefined;
    case 'ids':
      return Array.isArray(v) && v.every((x) => typeof x === 'string') ? v.join(', ') : undefined;
    case 'lines':
      return Array.isArray(v) && v.every((x) => typeof x === 'string') ? v.join('\n') : undefined;
    case 'text':
    case 'choice':
      return typeof v === 'string' ? v : undefined;
    case 'json':
      return stringify(v);
    case 'bool':
      return undefined;
  }
}

/** The example of `s` itself (`example`, or the first of `examples`). */
function ownExample(s: Schema): Json | undefined {
  const ex = own(s, 'example');
  if (ex !== undefined) return ex;
  return Array.isArray(s.examples) ? s.examples[0] : undefined;
}

/** The default of `s` as the field's text. */
function defaultText(type: FieldType, s: Schema): string | undefined {
  const dflt = own(s, 'default');
  return dflt === undefined || dflt === null ? undefined : shown(type, dflt);
}

/**
 * The placeholder: the default as it is (an empty optional field means the default); else an
 * example, plain in a required field and as `e.g. …` in an optional one (where it is not what
 * empty means).
 */
function placeholderOf(type: FieldType, s: Schema, required: boolean, example: Json | undefined): string | undefined {
  const dflt = defaultText(type, s);
  if (dflt !== undefined) return dflt;
  const ex = example ?? ownExample(s);
  if (ex === undefined || ex === null) return undefined;
  const text = shown(type, ex);
  if (text === undefined || text === '') return undefined;
  return required ? text : `e.g. ${text}`;
}

// --- fields ------------------------------------------------------------------------------------

/** Drops the keys whose value is undefined (specs compare and print cleanly). */
function clean(spec: FieldSpec): FieldSpec {
  const out: { [key: string]: unknown } = {};
  for (const [k, v] of Object.entries(spec)) if (v !== undefined) out[k] = v;
  return out as unknown as FieldSpec;
}

function stringEnum(s: Schema): string[] | undefined {
  const values = Array.isArray(s.enum) ? s.enum : typeof s.const === 'string' ? [s.const] : undefined;
  return values && values.length > 0 && values.every((v) => typeof v === 'string') ? (values as string[]) : undefined;
}

const JOB_ID = 'a job id';
const JOB_IDS = 'job ids, comma or space separated';

/**
 * The field of the param `name` whose schema is `prop`; `example` is its value in the kind's
 * example, if there is one.
 */
export function fieldOf(name: string, prop: Json, required: boolean, example?: Json): FieldSpec {
  const s = isSchema(prop) ? unwrap(prop) : {};
  const desc = describe(s);
  const base = { name, path: `params.${name}`, label: str(s.title)?.trim() || labelOf(name), required: required || undefined };
  const as = (type: FieldType, rest: Partial<FieldSpec> = {}): FieldSpec =>
    clean({ ...base, type, placeholder: placeholderOf(type, s, required, example), hint: desc, ...rest });
  const options = stringEnum(s);
  const type = options ? 'choice' : str(s.type);

  switch (type) {
    case 'integer': {
      const [min, max] = intRange(s);
      return as('int', { min, max, hint: sentences(desc, boundsSentence(desc, min, max)) });
    }
    case 'number': {
      const min = numberBound(s.minimum);
      const max = numberBound(s.maximum);
      return as('number', { min, max, hint: sentences(desc, boundsSentence(desc, min, max)) });
    }
    case 'boolean': {
      const dflt = own(s, 'default');
      const ex = example ?? ownExample(s);
      const known = typeof dflt === 'boolean' ? dflt : typeof ex === 'boolean' ? ex : undefined;
      if (known !== undefined || required) return as('bool', { checked: known ?? false });
      // Unchecked would read as false: left unset, the server's default (which the schema
      // does not say) applies.
      return as('bool', { checked: false, unset: true, hint: sentences(desc, "Left unset (–), the server's default applies.") });
    }
    case 'choice': {
      const dflt = own(s, 'default');
      return as('choice', { options, value: typeof dflt === 'string' ? dflt : undefined, placeholder: undefined });
    }
    case 'string': {
      if (s.format === 'uuid') return as('text', { placeholder: defaultText('text', s) ?? JOB_ID });
      const lo = countBound(s.minLength);
      const hi = countBound(s.maxLength);
      const chars = mentions(desc, hi ?? lo) ? null : counted(lo, hi, 'character');
      return as('text', { hint: sentences(desc, sentence(chars)) });
    }
    case 'array': {
      const items = isSchema(s.items) ? unwrap(s.items) : {};
      const itemType = stringEnum(items) ? 'string' : str(items.type);
      const minItems = countBound(s.minItems);
      const maxItems = countBound(s.maxItems);
      const many = mentions(desc, maxItems ?? minItems) ? null : counted(minItems, maxItems, 'value');
      if (itemType === 'integer') {
        const [lo, hi] = intRange(items);
        const each = mentions(desc, hi ?? lo) ? null : range(lo, hi);
        const bounds = many && each ? `${many}, each ${each}` : many ?? (each ? `each ${each}` : null);
        return as('ints', { hint: sentences(desc, sentence(bounds), 'Comma or space separated.') });
      }
      if (itemType === 'string') {
        // Job ids: an example id says less than what to type.
        if (items.format === 'uuid') return as('ids', { placeholder: defaultText('ids', s) ?? JOB_IDS, hint: sentences(desc, sentence(many)) });
        return as('lines', { hint: sentences(desc, sentence(many), 'One per line.') });
      }
      return as('json', { hint: sentences(desc, 'As JSON.') });
    }
    default:
      return as('json', { hint: sentences(desc, 'As JSON.') });
  }
}

/** The one field of params the schema does not lay out as properties: the whole object, as JSON. */
function wholeParams(s: Schema): FieldSpec[] {
  const ex = ownExample(s);
  return [clean({
    name: 'params',
    path: 'params',
    label: 'Parameters (JSON)',
    type: 'json',
    placeholder: ex === undefined ? '{}' : stringify(ex),
    hint: sentences(describe(s), 'A JSON object; empty sends {}.'),
  })];
}

/**
 * The fields of a kind's params from their JSON Schema: the required ones first (in the order
 * the schema requires them), then the optional ones in the schema's order, checkboxes last.
 * A schema that is not an object of properties gets one JSON field for the whole params.
 */
export function paramFields(schema: Json): FieldSpec[] {
  const s = isSchema(schema) ? unwrap(schema) : {};
  const objectType = s.type === 'object' || (s.type === undefined && isSchema(s.properties));
  if (!objectType) return wholeParams(s);
  const props = isSchema(s.properties) ? s.properties : {};
  const names = Object.keys(props);
  // No properties: no params at all when no others are allowed, else any object.
  if (names.length === 0) return s.additionalProperties === false ? [] : wholeParams(s);
  const required = (Array.isArray(s.required) ? s.required : []).filter((n): n is string => typeof n === 'string' && names.includes(n));
  const example = ownExample(s);
  const exampleOf = (n: string): Json | undefined => (isSchema(example) ? own(example, n) : undefined);
  const ordered = [...new Set([...required, ...names])];
  const fields = ordered.map((n) => fieldOf(n, own(props, n) ?? {}, required.includes(n), exampleOf(n)));
  return [...fields.filter((f) => f.type !== 'bool'), ...fields.filter((f) => f.type === 'bool')];
}
