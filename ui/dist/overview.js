// overview.ts — the first page: counters by status and by kind, throughput and queue-depth
// charts (GET /stats, polled every 3 s; the queue's history is kept here, in the tab), and the
// running jobs with live progress bars (GET /jobs?status=running, then the event stream).
import * as api from './api.js';
import { drawLine, drawThroughput, redrawOnResize } from './charts.js';
import { fill, h, link, s } from './dom.js';
import { ago, count, duration, between, label, shortId } from './format.js';
import { STATUSES } from './types.js';
import { Scope, eventData } from './view.js';
import { errorText, notice, progressBar, setProgress } from './widgets.js';
const POLL_MS = 3000;
const WINDOW_MS = 15 * 60 * 1000;
/** Queue depth as polled, kept while the tab lives (so leaving the page does not lose it). */
const queueHistory = [];
function record(history, v) {
    const now = Date.now();
    history.push({ t: now, v });
    while (history.length > 0 && (history[0]?.t ?? now) < now - WINDOW_MS)
        history.shift();
}
function statCards() {
    return h('div', { id: 'stat-counts', class: 'stat-grid' }, ...STATUSES.map((st) => link(`/jobs?status=${st}`, { class: `stat-card stat-${st}`, 'data-status': st }, h('span', { class: 'stat-label' }, h('span', { class: `dot dot-${st}`, 'aria-hidden': 'true' }), label(st)), h('span', { class: 'count' }, '—'))));
}
function chartCard(title, svgId, legend) {
    const svg = s('svg', { id: svgId, class: 'chart', 'aria-labelledby': `${svgId}-title` });
    const card = h('section', { class: 'card chart-card' }, h('h2', { id: `${svgId}-title` }, title), legend, svg);
    return [card, svg];
}
function legend(items) {
    return h('p', { class: 'legend' }, ...items.map(([cls, text]) => h('span', {}, h('span', { class: `swatch ${cls}`, 'aria-hidden': 'true' }), text)));
}
function kindTable(stats) {
    const kinds = Object.keys(stats.kinds).sort();
    return h('table', { class: 'table kind-table', id: 'kind-table' }, h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Kind'), ...STATUSES.map((st) => h('th', { scope: 'col', class: 'num' }, label(st))))), h('tbody', {}, ...kinds.map((k) => h('tr', { 'data-kind': k }, h('th', { scope: 'row' }, link(`/jobs?kind=${k}`, {}, k)), ...STATUSES.map((st) => {
        const n = stats.kinds[k]?.[st] ?? 0;
        return h('td', { class: n === 0 ? 'num zero' : 'num', 'data-label': label(st) }, count(n));
    })))));
}
function runningItem(job) {
    const since = job.started_at ?? job.created_at;
    return h('li', { 'data-job-id': job.id, 'data-since': since }, h('div', { class: 'running-head' }, link(`/jobs/${job.id}`, {}, job.kind, ' ', h('code', {}, shortId(job.id))), h('span', { class: 'muted elapsed' }, `running ${duration(between(since))}`)), progressBar(job.progress, `Progress of job ${job.id}`));
}
export function mountOverview(ctx) {
    const scope = new Scope();
    document.title = 'Overview · faena';
    const status = h('div', { class: 'view-status' });
    const counts = statCards();
    const [tpCard, tpSvg] = chartCard('Throughput', 'throughput-chart', legend([['bar-ok', 'succeeded or cancelled'], ['bar-failed', 'failed or timed out']]));
    const [qCard, qSvg] = chartCard('Queue depth', 'queue-chart', legend([['line', 'queued jobs, sampled every 3 s while this tab is open']]));
    const runningList = h('ul', { id: 'running-jobs', class: 'running-list' });
    const runningEmpty = h('p', { class: 'muted empty' }, 'No job is running.');
    const runningCount = h('span', { class: 'pill' }, '0');
    const kinds = h('div', { class: 'table-wrap' });
    fill(ctx.root, h('div', { class: 'view-head' }, h('h1', {}, 'Overview'), status), counts, h('div', { class: 'chart-grid' }, tpCard, qCard), h('section', { class: 'card' }, h('h2', {}, 'By kind'), kinds), h('section', { class: 'card' }, h('h2', {}, 'Running jobs ', runningCount), runningList, runningEmpty));
    let stats = null;
    const drawCharts = () => {
        if (stats)
            drawThroughput(tpSvg, stats.throughput);
        drawLine(qSvg, queueHistory, WINDOW_MS, 'Queued jobs');
    };
    scope.add(redrawOnResize(tpSvg, drawCharts));
    scope.add(redrawOnResize(qSvg, drawCharts));
    const showStats = (st) => {
        stats = st;
        for (const code of STATUSES) {
            const el = counts.querySelector(`[data-status="${code}"] .count`);
            if (el)
                el.textContent = count(st.counts[code] ?? 0);
        }
        fill(kinds, kindTable(st));
        drawCharts();
    };
    scope.every(POLL_MS, async () => {
        try {
            const st = await api.stats();
            if (!scope.alive)
                return;
            record(queueHistory, st.queue_depth);
            showStats(st);
            fill(status, h('span', { class: 'muted' }, `Updated ${ago(st.at)}`));
        }
        catch (err) {
            if (scope.alive)
                fill(status, notice('error', `Statistics: ${errorText(err)}`));
        }
        tickElapsed();
    });
    // Running jobs: the list now, then the changes as events.
    const items = new Map();
    const syncEmpty = () => {
        runningEmpty.hidden = items.size > 0;
        runningCount.textContent = String(items.size);
    };
    const drop = (id) => {
        items.get(id)?.remove();
        items.delete(id);
        syncEmpty();
    };
    const upsert = (job) => {
        const old = items.get(job.id);
        if (job.status !== 'running') {
            drop(job.id);
        }
        else if (old) {
            setProgress(old, job.progress);
        }
        else {
            const li = runningItem(job);
            items.set(job.id, li);
            runningList.prepend(li);
        }
        syncEmpty();
    };
    function tickElapsed() {
        for (const li of items.values()) {
            const el = li.querySelector('.elapsed');
            if (el && li.dataset.since)
                el.textContent = `running ${duration(between(li.dataset.since))}`;
        }
    }
    syncEmpty();
    void (async () => {
        try {
            const page = await api.jobs({ status: 'running', limit: 200 });
            if (!scope.alive)
                return;
            // Oldest first, so that prepending leaves the newest on top.
            for (const job of page.jobs.slice().reverse())
                upsert(job);
        }
        catch (err) {
            if (scope.alive)
                runningList.before(notice('error', `Running jobs: ${errorText(err)}`));
        }
        if (!scope.alive)
            return;
        scope.stream({
            path: api.eventsPath({}),
            onEvent: (ev) => {
                if (ev.event === 'reset')
                    ctx.reload();
                else if (ev.event === 'job') {
                    const job = eventData(ev);
                    if (job)
                        upsert(job);
                }
                else if (ev.event === 'progress') {
                    const p = eventData(ev);
                    const li = p && items.get(p.id);
                    if (p && li)
                        setProgress(li, p);
                }
                else if (ev.event === 'deleted') {
                    const d = eventData(ev);
                    if (d)
                        drop(d.id);
                }
            },
        });
    })();
    return scope;
}
