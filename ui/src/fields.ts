// fields.ts — the submit form's fields: what each one is (FieldSpec; a kind's params come from
// its JSON Schema, see schema.ts), the options every kind has with the bounds of GET /limits,
// and how each field's text becomes JSON. Errors are keyed by the path the API names in a
// problem's `field` (`params.end`, `timeout_ms`, `params.numbers[3]`).

import { count } from './format.js';
import { type Json, parse } from './json.js';
import type { Limits } from './types.js';

/**
 * `int`: a whole number (exact past 2^53); `number`: any number; `ints`: whole numbers, comma
 * or space separated; `lines`: strings, one per line; `ids`: job ids, comma or space
 * separated; `text`: a string; `bool`: a checkbox; `choice`: one of `options`; `json`: any
 * JSON value, as text.
 */
export type FieldType = 'int' | 'number' | 'ints' | 'lines' | 'ids' | 'text' | 'bool' | 'choice' | 'json';

export interface FieldSpec {
  /** The input's name: the param's name, or the request's option. */
  name: string;
  /** Where the value goes in the request, as a problem's `field` names it (`params` alone: the whole params). */
  path: string;
  label: string;
  type: FieldType;
  required?: boolean;
  min?: number | bigint;
  max?: number | bigint;
  placeholder?: string;
  value?: string;
  checked?: boolean;
  /** A checkbox that starts neither checked nor not: left out of the request until clicked. */
  unset?: boolean;
  /** The values of a `choice`. */
  options?: string[];
  hint?: string;
}

/** The options every kind has. */
export function optionFields(l: Limits): FieldSpec[] {
  return [
    { name: 'timeout_ms', path: 'timeout_ms', label: 'Timeout (ms)', type: 'int', min: 1, max: l.max_timeout_ms, placeholder: String(l.default_timeout_ms), hint: `Deadline of one run, up to ${count(l.max_timeout_ms)}.` },
    { name: 'priority', path: 'priority', label: 'Priority', type: 'int', min: l.min_priority, max: l.max_priority, placeholder: String(l.default_priority), hint: `Higher runs first, ${count(l.min_priority)} to ${count(l.max_priority)}.` },
    { name: 'max_attempts', path: 'max_attempts', label: 'Max attempts', type: 'int', min: 1, max: l.max_max_attempts, placeholder: String(l.default_max_attempts), hint: `1 to ${count(l.max_max_attempts)}.` },
    { name: 'depends_on', path: 'depends_on', label: 'Depends on', type: 'ids', placeholder: 'job ids, comma or space separated', hint: `Runs once these jobs are final; at most ${count(l.max_dependencies)}.` },
  ];
}

/** A value that could not be read, and the path of the field at fault. */
export class FieldError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

/** What a field's control holds. */
export interface FieldState {
  text: string;
  checked?: boolean;
  /** A checkbox never clicked since it started unset. */
  indeterminate?: boolean;
  /** A number input holding what is not a number (its `value` is then empty). */
  badInput?: boolean;
}

const INT = /^-?\d+$/;

function integer(text: string, path: string): number | bigint {
  if (!INT.test(text)) throw new FieldError(path, 'Enter a whole number.');
  const n = Number(text);
  // Past 2^53 a double would round it: send the digits as they are.
  return Number.isSafeInteger(n) ? n : BigInt(text);
}

function words(text: string): string[] {
  return text.split(/[\s,]+/).filter((w) => w !== '');
}

function json(text: string, path: string): Json {
  try {
    return parse(text);
  } catch (err) {
    throw new FieldError(path, `Enter JSON (${err instanceof Error ? err.message : String(err)}).`);
  }
}

/** The JSON of one field, or undefined to leave it out (so that the server's default applies). */
export function fieldValue(spec: FieldSpec, state: FieldState): Json | undefined {
  if (spec.type === 'bool') return state.indeterminate ? undefined : (state.checked ?? false);
  if (state.badInput) throw new FieldError(spec.path, spec.type === 'int' ? 'Enter a whole number.' : 'Enter a number.');
  const text = state.text.trim();
  let value: Json | undefined;
  switch (spec.type) {
    case 'int':
      value = text === '' ? undefined : integer(text, spec.path);
      break;
    case 'number': {
      const n = text === '' ? undefined : json(text, spec.path);
      if (n !== undefined && typeof n !== 'number' && typeof n !== 'bigint') throw new FieldError(spec.path, 'Enter a number.');
      value = n;
      break;
    }
    case 'ints': {
      const list = words(text);
      value = list.length ? list.map((w, i) => integer(w, `${spec.path}[${i}]`)) : undefined;
      break;
    }
    case 'lines': {
      const list = state.text.split(/\r?\n/).map((s) => s.trim()).filter((s) => s !== '');
      value = list.length ? list : undefined;
      break;
    }
    case 'ids': {
      const list = words(text);
      value = list.length ? list : undefined;
      break;
    }
    case 'text':
    case 'choice':
      value = text === '' ? undefined : text;
      break;
    case 'json':
      value = text === '' ? undefined : json(text, spec.path);
      break;
  }
  if (value === undefined && spec.required) throw new FieldError(spec.path, 'Required.');
  return value;
}

/** The JSON of the field whose control is `el` (see {@link fieldValue}). */
export function readField(spec: FieldSpec, el: HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement): Json | undefined {
  const input = el instanceof HTMLInputElement ? el : null;
  return fieldValue(spec, {
    text: el.value,
    checked: input?.checked,
    indeterminate: input?.indeterminate,
    badInput: input?.validity.badInput,
  });
}
