// overview.ts — the first page: counters by status and by kind, throughput and queue-depth
// charts (GET /stats, polled every 3 s; the queue's history is kept here, in the tab), and the
// running jobs with live progress bars: the event stream, opened first, and GET
// /jobs?status=running, read again with every poll so that no job stays listed by mistake.
// Everything updates in place, so that the keyboard focus stays where it is.

import * as api from './api.js';
import { type Sample, drawLine, drawThroughput, redrawOnResize } from './charts.js';
import { fill, h, link, s } from './dom.js';
import { ago, count, duration, between, label, shortId } from './format.js';
import type { JobState, ProgressEvent, Stats } from './types.js';
import { STATUSES } from './types.js';
import { Scope, type View, type ViewContext, eventData } from './view.js';
import { errorText, notice, progressBar, setProgress } from './widgets.js';

const POLL_MS = 3000;
const WINDOW_MS = 15 * 60 * 1000;
/** How long the first list of running jobs waits for the stream to open (then it loads anyway). */
const STREAM_WAIT_MS = 3000;

/** Queue depth as polled, kept while the tab lives (so leaving the page does not lose it). */
const queueHistory: Sample[] = [];

function record(history: Sample[], v: number): void {
  const now = Date.now();
  history.push({ t: now, v });
  while (history.length > 0 && (history[0]?.t ?? now) < now - WINDOW_MS) history.shift();
}

function statCards(): HTMLElement {
  return h(
    'div',
    { id: 'stat-counts', class: 'stat-grid' },
    ...STATUSES.map((st) =>
      link(
        `/jobs?status=${st}`,
        { class: `stat-card stat-${st}`, 'data-status': st },
        h('span', { class: 'stat-label' }, h('span', { class: `dot dot-${st}`, 'aria-hidden': 'true' }), label(st)),
        h('span', { class: 'count' }, '—'),
      ),
    ),
  );
}

function chartCard(title: string, svgId: string, legend: HTMLElement | null): [HTMLElement, SVGSVGElement, HTMLElement] {
  // The chart's figures in words, for screen readers (the SVG is an image of them).
  const summary = h('p', { id: `${svgId}-summary`, class: 'visually-hidden' });
  const svg = s('svg', { id: svgId, class: 'chart', 'aria-labelledby': `${svgId}-title`, 'aria-describedby': `${svgId}-summary` });
  const card = h('section', { class: 'card chart-card' }, h('h2', { id: `${svgId}-title` }, title), legend, svg, summary);
  return [card, svg, summary];
}

function legend(items: Array<[string, string]>): HTMLElement {
  return h(
    'p',
    { class: 'legend' },
    ...items.map(([cls, text]) => h('span', {}, h('span', { class: `swatch ${cls}`, 'aria-hidden': 'true' }), text)),
  );
}

/** The by-kind table, updated in place (a focused link in it keeps the focus). */
class KindTable {
  readonly el: HTMLTableElement;
  private readonly body = h('tbody');
  private readonly rows = new Map<string, HTMLTableRowElement>();

  constructor() {
    this.el = h(
      'table',
      { class: 'table kind-table', id: 'kind-table' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Kind'), ...STATUSES.map((st) => h('th', { scope: 'col', class: 'num' }, label(st))))),
      this.body,
    );
  }

  update(stats: Stats): void {
    const kinds = Object.keys(stats.kinds).sort();
    for (const [k, tr] of this.rows) {
      if (!kinds.includes(k)) {
        tr.remove();
        this.rows.delete(k);
      }
    }
    let before: HTMLTableRowElement | null = null;
    for (const k of kinds.slice().reverse()) {
      let tr = this.rows.get(k);
      if (!tr) {
        tr = h(
          'tr',
          { 'data-kind': k },
          h('th', { scope: 'row' }, link(`/jobs?kind=${encodeURIComponent(k)}`, {}, k)),
          ...STATUSES.map((st) => h('td', { 'data-label': label(st) })),
        );
        this.rows.set(k, tr);
        this.body.insertBefore(tr, before);
      }
      STATUSES.forEach((st, i) => {
        const td = tr?.cells[i + 1];
        const n = stats.kinds[k]?.[st] ?? 0;
        if (!td) return;
        td.className = n === 0 ? 'num zero' : 'num';
        const text = count(n);
        if (td.textContent !== text) td.textContent = text;
      });
      before = tr;
    }
  }
}

function runningItem(job: JobState): HTMLLIElement {
  const since = job.started_at ?? job.created_at;
  return h(
    'li',
    { 'data-job-id': job.id, 'data-since': since },
    h(
      'div',
      { class: 'running-head' },
      link(`/jobs/${job.id}`, {}, job.kind, ' ', h('code', {}, shortId(job.id))),
      h('span', { class: 'muted elapsed' }, `running ${duration(between(since))}`),
    ),
    progressBar(job.progress, `Progress of job ${job.id}`),
  );
}

export function mountOverview(ctx: ViewContext): View {
  const scope = new Scope();
  document.title = 'Overview · faena';
  const status = h('div', { class: 'view-status' });
  const counts = statCards();
  const [tpCard, tpSvg, tpSummary] = chartCard('Throughput', 'throughput-chart', legend([['bar-ok', 'succeeded or cancelled'], ['bar-failed', 'failed or timed out']]));
  const [qCard, qSvg, qSummary] = chartCard('Queue depth', 'queue-chart', legend([['line', 'queued jobs, sampled every 3 s while this tab is open']]));
  const runningList = h('ul', { id: 'running-jobs', class: 'running-list' });
  const runningEmpty = h('p', { class: 'muted empty' }, 'No job is running.');
  const runningCount = h('span', { class: 'pill' }, '0');
  const kindTable = new KindTable();
  const kinds = h('div', { class: 'table-wrap' }, kindTable.el);
  fill(
    ctx.root,
    h('div', { class: 'view-head' }, h('h1', {}, 'Overview'), status),
    counts,
    h('div', { class: 'chart-grid' }, tpCard, qCard),
    h('section', { class: 'card' }, h('h2', {}, 'By kind'), kinds),
    h('section', { class: 'card' }, h('h2', {}, 'Running jobs ', runningCount), runningList, runningEmpty),
  );

  let stats: Stats | null = null;
  const drawCharts = (): void => {
    if (stats) tpSummary.textContent = drawThroughput(tpSvg, stats.throughput);
    qSummary.textContent = drawLine(qSvg, queueHistory, WINDOW_MS, 'Queued jobs');
  };
  scope.add(redrawOnResize(tpSvg, drawCharts));
  scope.add(redrawOnResize(qSvg, drawCharts));

  const showStats = (st: Stats): void => {
    stats = st;
    for (const code of STATUSES) {
      const el = counts.querySelector(`[data-status="${code}"] .count`);
      if (el) el.textContent = count(st.counts[code] ?? 0);
    }
    kindTable.update(st);
    drawCharts();
  };

  // Running jobs: the event stream opens first; then the list, read with every poll. Events
  // apply as they come; a list applies only to the jobs no event spoke of while it was read
  // (for those, the event is as new or newer).
  const items = new Map<string, HTMLLIElement>();
  const runningError = h('div', { class: 'messages' });
  runningList.before(runningError);
  const syncEmpty = (): void => {
    runningEmpty.hidden = items.size > 0;
    runningCount.textContent = String(items.size);
  };
  const drop = (id: string): void => {
    const li = items.get(id);
    if (li) {
      // A focused link going away hands the focus to its neighbour.
      const hadFocus = li.contains(document.activeElement);
      const near = (li.nextElementSibling ?? li.previousElementSibling)?.querySelector<HTMLElement>('a');
      li.remove();
      if (hadFocus) near?.focus();
    }
    items.delete(id);
    syncEmpty();
  };
  const upsert = (job: JobState): void => {
    const old = items.get(job.id);
    if (job.status !== 'running') {
      drop(job.id);
    } else if (old) {
      old.dataset.since = job.started_at ?? job.created_at;
      setProgress(old, job.progress);
    } else {
      const li = runningItem(job);
      items.set(job.id, li);
      runningList.prepend(li);
    }
    syncEmpty();
  };
  function tickElapsed(): void {
    for (const li of items.values()) {
      const el = li.querySelector('.elapsed');
      if (el && li.dataset.since) el.textContent = `running ${duration(between(li.dataset.since))}`;
    }
  }
  syncEmpty();

  /** The ids events spoke of while a list was being read. */
  let spoken: Set<string> | null = null;
  const syncRunning = async (): Promise<void> => {
    const heard = new Set<string>();
    spoken = heard;
    try {
      const page = await api.jobs({ status: 'running', limit: 200 });
      if (!scope.alive) return;
      fill(runningError);
      const listed = new Set(page.jobs.map((j) => j.id));
      // Only a whole list says which jobs no longer run.
      if (!page.next_cursor) {
        for (const id of Array.from(items.keys())) if (!listed.has(id) && !heard.has(id)) drop(id);
      }
      // Oldest first, so that prepending leaves the newest on top.
      for (const job of page.jobs.slice().reverse()) if (!heard.has(job.id)) upsert(job);
    } catch (err) {
      if (scope.alive) fill(runningError, notice('error', `Running jobs: ${errorText(err)}`));
    } finally {
      if (spoken === heard) spoken = null;
    }
  };

  let opened: () => void = () => {};
  const streamReady = new Promise<void>((resolve) => {
    opened = resolve;
    window.setTimeout(resolve, STREAM_WAIT_MS);
  });
  scope.stream({
    path: api.eventsPath({}),
    onState: (state) => {
      if (state !== 'connecting') opened();
    },
    onEvent: (ev) => {
      if (ev.event === 'reset') ctx.reload();
      else if (ev.event === 'job') {
        const job = eventData<JobState>(ev);
        if (!job) return;
        spoken?.add(job.id);
        upsert(job);
      } else if (ev.event === 'progress') {
        const p = eventData<ProgressEvent>(ev);
        const li = p && items.get(p.id);
        if (p && li) setProgress(li, p);
      } else if (ev.event === 'deleted') {
        const d = eventData<{ id: string }>(ev);
        if (!d) return;
        spoken?.add(d.id);
        drop(d.id);
      }
    },
  });

  const pollStats = async (): Promise<void> => {
    try {
      const st = await api.stats();
      if (!scope.alive) return;
      record(queueHistory, st.queue_depth);
      showStats(st);
      fill(status, h('span', { class: 'muted' }, `Updated ${ago(st.at)}`));
    } catch (err) {
      if (scope.alive) fill(status, notice('error', `Statistics: ${errorText(err)}`));
    }
  };
  let first = true;
  scope.every(POLL_MS, async () => {
    // The first list waits for the stream to be open: no change falls in between.
    const running = (first ? streamReady : Promise.resolve()).then(() => (scope.alive ? syncRunning() : undefined));
    first = false;
    await Promise.all([pollStats(), running]);
    tickElapsed();
  });

  return scope;
}
