// jobs.ts — the jobs table: filters by status and kind, cursor pagination (newest first), and
// live rows from the event stream (status and progress update in place; on the first page, new
// jobs that match the filters appear where they belong; rows that stop matching go). The stream
// opens before the list is asked for, and its events wait until the list has arrived: none is
// lost in between.

import * as api from './api.js';
import { fill, h, link } from './dom.js';
import { ago, between, duration, shortId, time } from './format.js';
import type { SseEvent } from './sse.js';
import type { JobState, ProgressEvent } from './types.js';
import { STATUSES, isStatus } from './types.js';
import { Scope, type View, type ViewContext, eventData, routeHash } from './view.js';
import { badge, failed, loading, progressBar, setProgress } from './widgets.js';

export const DEFAULT_LIMIT = 50;

/**
 * The enabled kinds as GET /limits last named them (the kind registry's, in registration
 * order): the kind filter's choices. Kept between pages, so that a page mounted again (a
 * filter changed) has them at once; each mount asks again.
 */
let enabledKinds: string[] = [];

/** The kind filter's choices: the enabled kinds, and the kind filtered on (old jobs may be of another). */
function kindChoices(current: string): string[] {
  return current && !enabledKinds.includes(current) ? [...enabledKinds, current] : enabledKinds;
}

interface Filters {
  status: string;
  kind: string;
  limit: number;
  cursor: string | null;
}

function filtersOf(query: URLSearchParams): Filters {
  const status = query.get('status') ?? '';
  const limit = Number.parseInt(query.get('limit') ?? '', 10);
  return {
    status: isStatus(status) ? status : '',
    kind: query.get('kind') ?? '',
    limit: limit >= 1 && limit <= 1000 ? limit : DEFAULT_LIMIT,
    cursor: query.get('cursor') || null,
  };
}

function hashOf(f: Filters): string {
  return routeHash('/jobs', {
    status: f.status,
    kind: f.kind,
    limit: f.limit === DEFAULT_LIMIT ? null : f.limit,
    cursor: f.cursor,
  });
}

function select(id: string, text: string, values: string[], current: string): [HTMLElement, HTMLSelectElement] {
  const sel = h('select', { id, name: id });
  setChoices(sel, values, current);
  return [h('div', { class: 'field inline' }, h('label', { for: id }, text), sel), sel];
}

/** The options of a filter: All, then `values`; the same element (it may have the focus). */
function setChoices(sel: HTMLSelectElement, values: string[], current: string): void {
  const now = Array.from(sel.options, (o) => o.value);
  if (now.length === values.length + 1 && values.every((v, i) => now[i + 1] === v)) return;
  fill(sel, h('option', { value: '' }, 'All'), ...values.map((v) => h('option', { value: v, selected: v === current }, v)));
}

function durationOf(job: JobState): string {
  if (!job.started_at) return '—';
  return duration(between(job.started_at, job.finished_at));
}

function row(job: JobState): HTMLTableRowElement {
  const progress = job.status === 'running' ? progressBar(job.progress, `Progress of job ${job.id}`) : '—';
  return h(
    'tr',
    { 'data-job-id': job.id },
    h('td', { class: 'id', 'data-label': 'Job' }, link(`/jobs/${job.id}`, { title: job.id }, h('code', {}, shortId(job.id)))),
    h('td', { class: 'kind', 'data-label': 'Kind' }, job.kind),
    h('td', { class: 'status', 'data-label': 'Status' }, badge(job.status)),
    h('td', { class: job.status === 'running' ? 'progress-cell' : 'progress-cell idle', 'data-label': 'Progress' }, progress),
    h('td', { class: 'num attempts', 'data-label': 'Attempts' }, `${job.attempt}/${job.max_attempts}`),
    h('td', { class: 'num priority', 'data-label': 'Priority' }, job.priority),
    h('td', { class: 'created', 'data-label': 'Created' }, h('time', { datetime: job.created_at, title: time(job.created_at) }, ago(job.created_at))),
    h('td', { class: 'num duration', 'data-label': 'Duration' }, durationOf(job)),
  );
}

/**
 * Brings `tr` to the job's new state in place: the cells after the first (whose link may have
 * the keyboard focus) take the contents of a fresh row's.
 */
function updateRow(tr: HTMLTableRowElement, job: JobState): void {
  const fresh = row(job);
  for (let i = 1; i < fresh.cells.length; i++) {
    const cell = tr.cells[i];
    const next = fresh.cells[i];
    if (!cell || !next) continue;
    cell.className = next.className;
    cell.replaceChildren(...Array.from(next.childNodes));
  }
}

/** A pager button: `aria-disabled` rather than `disabled`, so that it keeps the focus. */
function pagerButton(id: string, text: string, off: boolean): HTMLButtonElement {
  const b = h('button', { type: 'button', id, class: 'btn' }, text);
  setOff(b, off);
  return b;
}

function setOff(b: HTMLButtonElement, off: boolean): void {
  if (off) b.setAttribute('aria-disabled', 'true');
  else b.removeAttribute('aria-disabled');
}

const isOff = (b: HTMLButtonElement): boolean => b.getAttribute('aria-disabled') === 'true';

/** How long the list waits for the stream to open (after that it loads anyway). */
const STREAM_WAIT_MS = 3000;

export function mountJobs(ctx: ViewContext): View {
  const scope = new Scope();
  document.title = 'Jobs · faena';
  const f = filtersOf(ctx.route.query);
  const go = (next: Partial<Filters>): void => {
    location.hash = hashOf({ ...f, cursor: null, ...next });
  };

  const [statusField, statusSel] = select('filter-status', 'Status', [...STATUSES], f.status);
  const [kindField, kindSel] = select('filter-kind', 'Kind', kindChoices(f.kind), f.kind);
  void api.limits().then(
    (limits) => {
      enabledKinds = limits.kinds;
      if (scope.alive) setChoices(kindSel, kindChoices(f.kind), f.kind);
    },
    // The list says what is wrong (or the key prompt does); the filter keeps what it has.
    () => {},
  );
  statusSel.addEventListener('change', () => go({ status: statusSel.value }));
  kindSel.addEventListener('change', () => go({ kind: kindSel.value }));

  const tbody = h('tbody');
  const table = h(
    'table',
    { id: 'jobs-table', class: 'table jobs-table' },
    h('caption', { class: 'visually-hidden' }, 'Jobs, newest first'),
    h('thead', {}, h('tr', {}, ...['Job', 'Kind', 'Status', 'Progress', 'Attempts', 'Priority', 'Created', 'Duration'].map((t) =>
      h('th', { scope: 'col', class: ['Attempts', 'Priority', 'Duration'].includes(t) ? 'num' : null }, t)))),
    tbody,
  );
  const first = pagerButton('first-page', '« Newest', !f.cursor);
  const next = pagerButton('next-page', 'Older »', true);
  const info = h('span', { class: 'muted page-info', 'aria-live': 'polite' });
  first.addEventListener('click', () => {
    if (!isOff(first)) go({ cursor: null });
  });
  let nextCursor: string | null = null;
  next.addEventListener('click', () => {
    if (nextCursor && !isOff(next)) go({ cursor: nextCursor });
  });
  const body = h('div', { class: 'table-wrap' }, loading('jobs'));

  fill(
    ctx.root,
    h('div', { class: 'view-head' }, h('h1', {}, 'Jobs'), link(`/submit${f.kind ? `?kind=${encodeURIComponent(f.kind)}` : ''}`, { class: 'btn btn-primary' }, 'Submit a job')),
    h('form', { class: 'filters card', role: 'search', 'aria-label': 'Filter jobs' }, statusField, kindField),
    body,
    h('nav', { class: 'pager', 'aria-label': 'Pages' }, first, info, next),
  );

  const jobs = new Map<string, JobState>();
  const setNext = (cursor: string | null): void => {
    nextCursor = cursor;
    setOff(next, !cursor);
    info.textContent = `${jobs.size} job${jobs.size === 1 ? '' : 's'}${f.cursor ? ' (older page)' : ''}`;
  };
  const showEmpty = (): void => {
    if (jobs.size > 0) tbody.querySelector('tr.empty')?.remove();
    else if (!tbody.querySelector('tr.empty')) {
      tbody.append(h('tr', { class: 'empty' }, h('td', { colspan: 8 }, 'No jobs match these filters.')));
    }
  };
  const rowOf = (id: string): HTMLTableRowElement | null =>
    tbody.querySelector(`tr[data-job-id="${CSS.escape(id)}"]`);

  const matches = (job: JobState): boolean =>
    (!f.status || job.status === f.status) && (!f.kind || job.kind === f.kind);

  /** A job that is not on the page: on the first page, put it where it sorts (ids are time-ordered). */
  const insert = (job: JobState): void => {
    if (f.cursor || !matches(job)) return;
    const rows = Array.from(tbody.querySelectorAll<HTMLTableRowElement>('tr[data-job-id]'));
    const before = rows.find((r) => (r.dataset.jobId ?? '') < job.id);
    if (!before && nextCursor) return; // older than the whole page: it is on a later page
    jobs.set(job.id, job);
    const tr = row(job);
    if (before) before.before(tr);
    else tbody.append(tr);
    // Keep the page's size: the rows pushed off go to the next page, which starts after the
    // new last row (the cursor is the id of the last job of a page).
    while (jobs.size > f.limit) {
      const last = tbody.querySelector<HTMLTableRowElement>('tr[data-job-id]:last-of-type');
      if (!last?.dataset.jobId) break;
      jobs.delete(last.dataset.jobId);
      last.remove();
      const newLast = tbody.querySelector<HTMLTableRowElement>('tr[data-job-id]:last-of-type');
      setNext(newLast?.dataset.jobId ?? null);
    }
    showEmpty();
    setNext(nextCursor);
  };

  /** Takes a row off the page; the focus it had goes to the next row (or the previous one). */
  const removeRow = (id: string): void => {
    jobs.delete(id);
    const tr = rowOf(id);
    if (tr) {
      const hadFocus = tr.contains(document.activeElement);
      const near = (tr.nextElementSibling ?? tr.previousElementSibling)?.querySelector<HTMLElement>('a');
      tr.remove();
      if (hadFocus) near?.focus();
    }
    showEmpty();
    setNext(nextCursor);
  };

  const onJob = (job: JobState): void => {
    const tr = rowOf(job.id);
    if (!tr) insert(job);
    else if (!matches(job)) removeRow(job.id);
    else {
      jobs.set(job.id, job);
      updateRow(tr, job);
    }
  };

  const apply = (ev: SseEvent): void => {
    if (ev.event === 'reset') ctx.reload();
    else if (ev.event === 'job') {
      const job = eventData<JobState>(ev);
      if (job) onJob(job);
    } else if (ev.event === 'progress') {
      const p = eventData<ProgressEvent>(ev);
      const cell = p && rowOf(p.id)?.querySelector('.progress');
      if (p && cell) setProgress(cell, p);
    } else if (ev.event === 'deleted') {
      const d = eventData<{ id: string }>(ev);
      if (d && jobs.has(d.id)) removeRow(d.id);
    }
  };

  // The stream first: its events wait in `early` until the list is on the page, then apply in
  // order (the list was read after they were subscribed to, so the last of them is the newest).
  let early: SseEvent[] | null = [];
  let opened: () => void = () => {};
  const streamReady = new Promise<void>((resolve) => {
    opened = resolve;
    window.setTimeout(resolve, STREAM_WAIT_MS);
  });
  const stream = scope.stream({
    path: api.eventsPath({ kind: f.kind }),
    onState: (state) => {
      if (state !== 'connecting') opened();
    },
    onEvent: (ev) => {
      if (early) early.push(ev);
      else apply(ev);
    },
  });

  const load = async (): Promise<void> => {
    await streamReady;
    if (!scope.alive) return;
    try {
      const page = await api.jobs({ status: f.status, kind: f.kind, limit: f.limit, cursor: f.cursor });
      if (!scope.alive) return;
      for (const job of page.jobs) jobs.set(job.id, job);
      fill(tbody, ...page.jobs.map(row));
      fill(body, table);
      showEmpty();
      setNext(page.next_cursor);
    } catch (err) {
      early = null;
      stream.close();
      if (scope.alive) fill(body, failed('The jobs could not be loaded', err, ctx.reload));
      return;
    }
    const missed = early ?? [];
    early = null;
    for (const ev of missed) {
      if (!scope.alive) return;
      apply(ev);
    }
    // Durations of running jobs and the "… ago" of every row move on.
    scope.every(5000, async () => {
      for (const tr of tbody.querySelectorAll<HTMLTableRowElement>('tr[data-job-id]')) {
        const job = jobs.get(tr.dataset.jobId ?? '');
        if (!job) continue;
        const created = tr.querySelector('.created time');
        if (created) created.textContent = ago(job.created_at);
        const dur = tr.querySelector('.duration');
        if (dur && job.status === 'running') dur.textContent = durationOf(job);
      }
    });
  };
  void load();
  return scope;
}
