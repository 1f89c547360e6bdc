// fields.ts — the submit form's fields per job kind, with the bounds of GET /limits (the same
// limits the API applies), and how each field's text becomes JSON. Errors are keyed by the
// path the API names in a problem's `field` (`params.end`, `timeout_ms`, `params.numbers[3]`).

import type { Json } from './json.js';
import { count } from './format.js';
import type { Limits } from './types.js';

export type FieldType = 'int' | 'ints' | 'lines' | 'text' | 'bool' | 'ids';

export interface FieldSpec {
  /** The input's name: the param's name, or the request's option. */
  name: string;
  /** Where the value goes in the request, as a problem's `field` names it. */
  path: string;
  label: string;
  type: FieldType;
  required?: boolean;
  min?: number | bigint;
  max?: number | bigint;
  placeholder?: string;
  value?: string;
  checked?: boolean;
  hint?: string;
}

const SUBMIT_BOUNDS = { priority: [-100, 100], max_attempts: [1, 25] } as const;

function param(name: string, label: string, type: FieldType, rest: Partial<FieldSpec> = {}): FieldSpec {
  return { name, path: `params.${name}`, label, type, ...rest };
}

/** The fields of a kind's params. */
export function paramFields(kind: string, l: Limits): FieldSpec[] {
  switch (kind) {
    case 'count_primes':
      return [
        param('start', 'Start', 'int', { required: true, min: 0, max: l.max_primes_end, value: '0', hint: 'First number of the range.' }),
        param('end', 'End', 'int', { required: true, min: 1, max: l.max_primes_end, placeholder: '1000000', hint: `One past the last number; at most ${count(l.max_primes_end)}.` }),
      ];
    case 'factorial':
      return [
        param('numbers', 'Numbers', 'ints', { required: true, placeholder: '50000, 60000, 70000', hint: `1 to ${count(l.max_factorial_numbers)} numbers, comma or space separated, each 0 to ${count(l.max_factorial_n)}.` }),
      ];
    case 'sleep':
      return [param('ms', 'Milliseconds', 'int', { required: true, min: 0, max: l.max_sleep_ms, placeholder: '1000', hint: `0 to ${count(l.max_sleep_ms)}.` })];
    case 'fetch_urls':
      return [
        param('urls', 'URLs', 'lines', { required: true, placeholder: 'https://example.com/', hint: `One http(s) URL per line, at most ${count(l.max_fetch_urls)}.` }),
        param('concurrency', 'Concurrency', 'int', { min: 1, max: l.max_fetch_concurrency, placeholder: '16', hint: `Requests in flight at once, 1 to ${count(l.max_fetch_concurrency)}.` }),
        param('url_timeout_ms', 'Timeout per URL (ms)', 'int', { min: 1, max: 300000, placeholder: '10000' }),
        param('save', 'Save the pages (for word_count and downloads)', 'bool', { checked: true }),
        param('retry_transient', 'Retry the job when some URLs fail transiently', 'bool', { checked: false }),
      ];
    case 'word_count':
      return [
        param('texts', 'Texts', 'lines', { placeholder: 'to be or not to be', hint: 'One text per line; or leave empty and name a source job.' }),
        param('source_job', 'Source job', 'text', { placeholder: 'id of a fetch_urls job', hint: 'Counts the pages that fetch_urls job saved.' }),
        param('top', 'Top words', 'int', { min: 0, max: 100, placeholder: '10', hint: 'How many of the most frequent words to report, 0 to 100.' }),
      ];
    default:
      return [];
  }
}

/** The options every kind has. */
export function optionFields(l: Limits): FieldSpec[] {
  return [
    { name: 'timeout_ms', path: 'timeout_ms', label: 'Timeout (ms)', type: 'int', min: 1, max: l.max_timeout_ms, placeholder: String(l.default_timeout_ms), hint: `Deadline of one run, up to ${count(l.max_timeout_ms)}.` },
    { name: 'priority', path: 'priority', label: 'Priority', type: 'int', min: SUBMIT_BOUNDS.priority[0], max: SUBMIT_BOUNDS.priority[1], placeholder: String(l.default_priority), hint: 'Higher runs first.' },
    { name: 'max_attempts', path: 'max_attempts', label: 'Max attempts', type: 'int', min: SUBMIT_BOUNDS.max_attempts[0], max: SUBMIT_BOUNDS.max_attempts[1], placeholder: String(l.default_max_attempts) },
    { name: 'depends_on', path: 'depends_on', label: 'Depends on', type: 'ids', placeholder: 'job ids, comma or space separated', hint: 'Runs once these jobs are final.' },
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

/** The JSON of one field, or undefined to leave it out (so that the server's default applies). */
export function readField(spec: FieldSpec, el: HTMLInputElement | HTMLTextAreaElement): Json | undefined {
  if (spec.type === 'bool') return (el as HTMLInputElement).checked;
  if (el instanceof HTMLInputElement && el.validity.badInput) throw new FieldError(spec.path, 'Enter a whole number.');
  const text = el.value.trim();
  let value: Json | undefined;
  switch (spec.type) {
    case 'int':
      value = text === '' ? undefined : integer(text, spec.path);
      break;
    case 'ints': {
      const list = words(text);
      value = list.length ? list.map((w, i) => integer(w, `${spec.path}[${i}]`)) : undefined;
      break;
    }
    case 'lines': {
      const list = el.value.split(/\r?\n/).map((s) => s.trim()).filter((s) => s !== '');
      value = list.length ? list : undefined;
      break;
    }
    case 'ids': {
      const list = words(text);
      value = list.length ? list : undefined;
      break;
    }
    case 'text':
      value = text === '' ? undefined : text;
      break;
  }
  if (value === undefined && spec.required) throw new FieldError(spec.path, 'Required.');
  return value;
}
