// main.ts — the dashboard's entry point: hash routing (#/, #/jobs, #/jobs/ID, #/submit), the
// header (active link, live indicator, forget-key button) and the API key prompt on a 401.

import { apiKey, onUnauthorized, setApiKey } from './api.js';
import { mountDetail } from './detail.js';
import { byId, fill, h, link } from './dom.js';
import { mountJobs } from './jobs.js';
import { showKeyForm } from './keyform.js';
import { mountOverview } from './overview.js';
import { type EventStream, type StreamState, onAnyStreamState } from './sse.js';
import { mountSubmit } from './submit.js';
import type { Route, View, ViewContext } from './view.js';

const main = byId('main');
let current: View | null = null;
let currentPath: string | null = null;

function parseRoute(): Route {
  const hash = location.hash.replace(/^#/, '') || '/';
  const q = hash.indexOf('?');
  const path = (q < 0 ? hash : hash.slice(0, q)) || '/';
  return { path, query: new URLSearchParams(q < 0 ? '' : hash.slice(q + 1)) };
}

function notFound(ctx: ViewContext): View {
  document.title = 'Not found · faena';
  fill(ctx.root, h('section', { class: 'card' }, h('h1', {}, 'No such page'), h('p', {}, 'Nothing lives at ', h('code', {}, `#${ctx.route.path}`), '. ', link('/', {}, 'Go to the overview'), '.')));
  return { dispose: () => {} };
}

function route(ctx: ViewContext): View {
  const path = ctx.route.path;
  if (path === '/') return mountOverview(ctx);
  if (path === '/jobs') return mountJobs(ctx);
  if (path === '/submit') return mountSubmit(ctx);
  const m = /^\/jobs\/([^/]+)$/.exec(path);
  const id = m?.[1] ? decoded(m[1]) : null;
  if (id) return mountDetail(ctx, id);
  return notFound(ctx);
}

/** `text` percent-decoded; null when it is malformed (`%E0%A4%A`), which must not blank the page. */
function decoded(text: string): string | null {
  try {
    return decodeURIComponent(text);
  } catch {
    return null;
  }
}

function markNav(path: string): void {
  const section = path === '/' ? '#/' : path.startsWith('/jobs') ? '#/jobs' : path.startsWith('/submit') ? '#/submit' : '';
  for (const a of document.querySelectorAll<HTMLAnchorElement>('.nav a')) {
    if (a.getAttribute('href') === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

function mount(): void {
  // The same page again (a filter changed): keep the focus on the control that changed it.
  const focused = document.activeElement instanceof HTMLElement && main.contains(document.activeElement) ? document.activeElement.id : '';
  current?.dispose();
  const r = parseRoute();
  const samePage = r.path === currentPath;
  // The first page of a visit leaves the focus where the browser put it (before the skip link).
  const firstPage = currentPath === null;
  currentPath = r.path;
  markNav(r.path);
  syncKeyButton();
  const ctx: ViewContext = { root: main, route: r, reload: mount };
  try {
    current = route(ctx);
  } catch (err) {
    // A page that cannot even mount says so instead of leaving the content blank.
    console.error('faena: the page could not be shown', err);
    current = notFound(ctx);
  }
  const again = focused ? document.getElementById(focused) : null;
  if (samePage && again) again.focus();
  else if (!samePage && !firstPage) main.focus({ preventScroll: true });
}

// --- the API key ---------------------------------------------------------------------------

const forget = byId<HTMLButtonElement>('forget-key');
function syncKeyButton(): void {
  forget.hidden = apiKey() === null;
}
forget.addEventListener('click', () => {
  setApiKey(null);
  mount();
});
onUnauthorized(() => {
  current?.dispose();
  current = null;
  showKeyForm(main, mount);
});

// --- the live indicator ----------------------------------------------------------------------

const live = byId('live-status');
const streams = new Map<EventStream, StreamState>();
onAnyStreamState((stream, state) => {
  if (state === 'closed') streams.delete(stream);
  else streams.set(stream, state);
  const states = new Set(streams.values());
  const [cls, text] = states.has('retrying')
    ? ['live-retrying', 'Reconnecting…']
    : states.has('open')
      ? ['live-open', 'Live']
      : states.has('connecting')
        ? ['live-connecting', 'Connecting…']
        : ['live-idle', 'Idle'];
  live.className = `live ${cls}`;
  live.textContent = text;
});

// The skip link: hash routing owns the fragment, so it focuses the content itself.
byId('skip-link').addEventListener('click', (e) => {
  e.preventDefault();
  main.focus();
});

window.addEventListener('hashchange', mount);
mount();
