// keyform.ts — the API key prompt, shown when an endpoint answered 401. The key is kept in
// sessionStorage (this tab only, gone when it closes) and sent as `Authorization: Bearer`.
// Only what the server could accept is taken: 16 to 512 printable ASCII characters.

import { apiKey, isWellFormedKey, setApiKey } from './api.js';
import { fill, h } from './dom.js';
import { notice } from './widgets.js';

/** Replaces the page's content with the prompt; `done` runs once a key was given. */
export function showKeyForm(root: HTMLElement, done: () => void): void {
  if (root.querySelector('#key-form')) return;
  const refused = apiKey() !== null;
  const input = h('input', {
    id: 'api-key', name: 'api-key', type: 'password', required: true, autocomplete: 'off',
    spellcheck: false, 'aria-describedby': 'api-key-hint api-key-error',
  });
  const error = h('p', { id: 'api-key-error', class: 'field-error', 'aria-live': 'polite' });
  const form = h(
    'form',
    { id: 'key-form', class: 'key-form', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'api-key' }, 'API key'), input,
      h('p', { id: 'api-key-hint', class: 'hint' }, 'Kept in this browser tab only (sessionStorage), sent as Authorization: Bearer.'),
      error),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Use this key')),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const key = input.value.trim();
    if (!isWellFormedKey(key)) {
      error.textContent = key
        ? 'An API key is 16 to 512 printable ASCII characters, without spaces.'
        : 'Enter an API key.';
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      return;
    }
    error.textContent = '';
    input.removeAttribute('aria-invalid');
    setApiKey(key);
    done();
  });
  document.title = 'API key · faena';
  fill(
    root,
    h(
      'section',
      { class: 'card key-card' },
      h('h1', {}, 'API key required'),
      h('p', {}, 'This faena server answers only requests that carry one of its API keys.'),
      refused ? notice('error', 'The key given was refused. Check it and try again.') : null,
      form,
    ),
  );
  if (refused) setApiKey(null);
  input.focus();
}
