// keyform.ts — the API key prompt, shown when an endpoint answered 401. The key is kept in
// sessionStorage (this tab only, gone when it closes) and sent as `Authorization: Bearer`.

import { apiKey, setApiKey } from './api.js';
import { fill, h } from './dom.js';
import { notice } from './widgets.js';

/** Replaces the page's content with the prompt; `done` runs once a key was given. */
export function showKeyForm(root: HTMLElement, done: () => void): void {
  if (root.querySelector('#key-form')) return;
  const refused = apiKey() !== null;
  const input = h('input', {
    id: 'api-key', name: 'api-key', type: 'password', required: true, autocomplete: 'off',
    spellcheck: false, 'aria-describedby': 'api-key-hint',
  });
  const form = h(
    'form',
    { id: 'key-form', class: 'key-form' },
    h('div', { class: 'field' }, h('label', { for: 'api-key' }, 'API key'), input,
      h('p', { id: 'api-key-hint', class: 'hint' }, 'Kept in this browser tab only (sessionStorage), sent as Authorization: Bearer.')),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Use this key')),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const key = input.value.trim();
    if (!key) {
      input.focus();
      return;
    }
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
