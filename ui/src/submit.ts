// submit.ts — the submit form: a kind, its params and the common options. The kinds and the
// fields of their params come from GET /kinds (each kind's params JSON Schema, see schema.ts),
// the options' bounds from GET /limits. The server validates; its problem+json errors show
// next to the field they name (`.field-error[data-field=…]`), others in #submit-error. On
// success, the new job's page.

import * as api from './api.js';
import { ApiError } from './api.js';
import { fill, h } from './dom.js';
import { type FieldSpec, FieldError, optionFields, readField } from './fields.js';
import type { Json } from './json.js';
import { paramFields } from './schema.js';
import type { KindView, Limits } from './types.js';
import { Scope, type View, type ViewContext, routeHash } from './view.js';
import { errorText, failed, loading, notice, prose } from './widgets.js';

type Control = HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement;

interface Bound {
  spec: FieldSpec;
  row: HTMLElement;
  input: Control;
  error: HTMLElement;
}

function control(spec: FieldSpec, common: Record<string, string | boolean | undefined>): Control {
  switch (spec.type) {
    case 'lines':
    case 'json':
      return h('textarea', { ...common, rows: 4, placeholder: spec.placeholder, spellcheck: false });
    case 'bool': {
      const box = h('input', { ...common, type: 'checkbox', checked: spec.checked, required: false });
      // Neither checked nor not until clicked: left out of the request (see fields.ts).
      box.indeterminate = spec.unset === true;
      return box;
    }
    case 'choice': {
      const value = spec.value ?? '';
      return h('select', common,
        h('option', { value: '', selected: value === '' }, spec.required ? 'Choose…' : '—'),
        ...(spec.options ?? []).map((o) => h('option', { value: o, selected: o === value }, o)));
    }
    case 'int':
    case 'number':
      return h('input', {
        ...common, type: 'number', step: spec.type === 'int' ? 1 : 'any', inputmode: spec.type === 'int' ? 'numeric' : 'decimal',
        min: spec.min?.toString(), max: spec.max?.toString(), placeholder: spec.placeholder, value: spec.value,
      });
    case 'text':
    case 'ints':
    case 'ids':
      return h('input', { ...common, type: 'text', placeholder: spec.placeholder, value: spec.value, autocomplete: 'off', spellcheck: false });
  }
}

function fieldRow(spec: FieldSpec): Bound {
  // From the path, not the name: a param may share its name with an option.
  const id = `field-${spec.path.replace(/[^A-Za-z0-9_-]/g, '-')}`;
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const describedBy = [spec.hint ? hintId : null, errorId].filter(Boolean).join(' ');
  const input = control(spec, { id, name: spec.name, 'aria-describedby': describedBy, required: spec.required });
  const error = h('p', { id: errorId, class: 'field-error', 'data-field': spec.path, 'aria-live': 'polite' });
  const hint = spec.hint ? h('p', { id: hintId, class: 'hint' }, ...prose(spec.hint)) : null;
  const mark = spec.required && spec.type !== 'bool' ? h('span', { class: 'required', 'aria-hidden': 'true' }, ' *') : null;
  const labelEl = h('label', { for: id }, spec.label, mark);
  const cls = spec.type === 'bool' ? 'field check' : spec.type === 'lines' || spec.type === 'json' ? 'field wide' : 'field';
  const row = spec.type === 'bool'
    ? h('div', { class: cls }, input, labelEl, hint, error)
    : h('div', { class: cls }, labelEl, input, hint, error);
  return { spec, row, input, error };
}

/**
 * The field a problem's path belongs to: exact, or the list it indexes (`params.numbers[3]`),
 * or the JSON value it is inside (`params.config.depth`; `params.x` of a whole-params field).
 */
function fieldFor(fields: Bound[], path: string): Bound | undefined {
  return fields.find((f) => f.spec.path === path)
    ?? fields.find((f) => path.startsWith(`${f.spec.path}[`) || (f.spec.type === 'json' && path.startsWith(`${f.spec.path}.`)));
}

export function mountSubmit(ctx: ViewContext): View {
  const scope = new Scope();
  document.title = 'Submit a job · faena';
  const body = h('div', {}, loading('the kinds'));
  fill(ctx.root, h('div', { class: 'view-head' }, h('h1', {}, 'Submit a job')), body);
  void Promise.all([api.kinds(), api.limits()]).then(
    ([kinds, limits]) => {
      if (scope.alive) fill(body, form(kinds, limits, ctx.route.query.get('kind')));
    },
    (err) => {
      if (scope.alive) fill(body, failed('The kinds could not be loaded', err, ctx.reload));
    },
  );
  return scope;
}

function form(views: KindView[], limits: Limits, wanted: string | null): HTMLElement {
  const kinds = views.map((v) => v.name);
  const kind = wanted && kinds.includes(wanted) ? wanted : (kinds[0] ?? '');
  const kindSelect = h('select', { id: 'submit-kind', name: 'kind', 'aria-describedby': 'submit-kind-hint submit-kind-error' },
    ...kinds.map((k) => h('option', { value: k, selected: k === kind }, k)));
  const kindHint = h('p', { id: 'submit-kind-hint', class: 'hint' });
  const kindError = h('p', { id: 'submit-kind-error', class: 'field-error', 'data-field': 'kind', 'aria-live': 'polite' });
  const paramsBox = h('div', { class: 'field-grid' });
  // A problem about the params as a whole (`field: "params"`: word_count's "exactly one of").
  const paramsError = h('p', { id: 'submit-params-error', class: 'field-error', 'data-field': 'params', 'aria-live': 'polite' });
  const optionsBox = h('div', { class: 'field-grid' });
  const general = h('div', { id: 'submit-error', 'aria-live': 'assertive' });
  const submitBtn = h('button', { type: 'submit', id: 'submit-job', class: 'btn btn-primary' }, 'Submit');
  const el = h('form', { id: 'submit-form', class: 'card submit-form', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'submit-kind' }, 'Kind'), kindSelect, kindHint, kindError),
    h('fieldset', {}, h('legend', {}, 'Parameters'), paramsError, paramsBox),
    h('details', { class: 'options' }, h('summary', {}, 'Options: timeout, priority, attempts, dependencies'), optionsBox),
    general,
    h('div', { class: 'actions' }, submitBtn),
  );
  const notEnabled = wanted && !kinds.includes(wanted) ? notice('error', `The kind ${wanted} is not enabled on this server.`) : null;

  let fields: Bound[] = [];
  const build = (k: string): void => {
    const view = views.find((v) => v.name === k);
    fill(kindHint, ...prose(view?.summary ?? ''));
    const params = view ? paramFields(view.params).map(fieldRow) : [];
    const options = optionFields(limits).map(fieldRow);
    fill(paramsBox, ...(params.length ? params.map((b) => b.row) : [h('p', { class: 'muted' }, 'No parameters.')]));
    fill(optionsBox, ...options.map((b) => b.row));
    fields = [...params, ...options];
  };
  build(kind);
  kindSelect.addEventListener('change', () => {
    build(kindSelect.value);
    clearErrors();
    history.replaceState(null, '', routeHash('/submit', { kind: kindSelect.value }));
  });

  const clearErrors = (): void => {
    fill(general);
    for (const e of el.querySelectorAll<HTMLElement>('.field-error')) e.textContent = '';
    for (const f of fields) {
      f.error.dataset.field = f.spec.path;
      f.input.removeAttribute('aria-invalid');
    }
    kindSelect.removeAttribute('aria-invalid');
  };
  const showError = (path: string | null, message: string): void => {
    const f = path ? fieldFor(fields, path) : undefined;
    if (f) {
      f.error.dataset.field = path ?? f.spec.path;
      f.error.textContent = message;
      f.input.setAttribute('aria-invalid', 'true');
      f.input.closest('details')?.setAttribute('open', '');
      f.input.focus();
    } else if (path === 'params') {
      paramsError.textContent = message;
      fields[0]?.input.focus();
    } else if (path === 'kind') {
      kindError.textContent = message;
      kindSelect.setAttribute('aria-invalid', 'true');
      kindSelect.focus();
    } else {
      fill(general, notice('error', path ? `${path}: ${message}` : message));
    }
  };

  el.addEventListener('submit', (e) => {
    e.preventDefault();
    clearErrors();
    let request: Json;
    try {
      request = requestOf(kindSelect.value, fields);
    } catch (err) {
      if (err instanceof FieldError) showError(err.path, err.message);
      else showError(null, errorText(err));
      return;
    }
    submitBtn.disabled = true;
    submitBtn.textContent = 'Submitting…';
    api.submit(request).then(
      (job) => {
        location.hash = `#/jobs/${job.id}`;
      },
      (err) => {
        submitBtn.disabled = false;
        submitBtn.textContent = 'Submit';
        if (err instanceof ApiError && err.problem) showError(err.problem.field ?? null, err.problem.detail || err.problem.title);
        else showError(null, errorText(err));
      },
    );
  });
  return h('div', {}, notEnabled, el);
}

/** Sets `obj[key]` as an own property, whatever the key (`__proto__` too, as json.ts reads it). */
function put(obj: { [key: string]: Json }, key: string, value: Json): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** The body of POST /jobs from the form; a FieldError for a value that cannot be read. */
function requestOf(kind: string, fields: Bound[]): Json {
  const params: { [key: string]: Json } = {};
  const request: { [key: string]: Json } = { kind, params };
  for (const f of fields) {
    const value = readField(f.spec, f.input);
    if (value === undefined) continue;
    if (f.spec.path === 'params') request.params = value;
    else if (f.spec.path.startsWith('params.')) put(params, f.spec.name, value);
    else request[f.spec.name] = value;
  }
  return request;
}
