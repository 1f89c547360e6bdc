// detail.ts — one job: status, actions (cancel, retry, delete), timeline, params, result
// (folded when large), errors of every attempt, dependencies, the job it retries, and the
// files a fetch_urls job saved. Live from GET /jobs/{id}/events: progress in place, and the
// whole job fetched again when its state changes (events carry no result or errors).
import * as api from './api.js';
import { fill, h, link } from './dom.js';
import { between, bytes, duration, time } from './format.js';
import { stringify } from './json.js';
import { isFinal, isRetryable } from './types.js';
import { Scope, eventData } from './view.js';
import { errorText, failed, loading, notice, progressBar, setProgress } from './widgets.js';
/** Results longer than this are folded in a <details>. */
const FOLD_LINES = 40;
const FOLD_BYTES = 4096;
function section(title, ...children) {
    return h('section', { class: 'card' }, h('h2', {}, title), ...children);
}
function jsonBlock(id, value, what) {
    const text = stringify(value, 2);
    const pre = h('pre', { id, class: 'json', tabindex: 0 }, text);
    const lines = text.split('\n').length;
    if (lines <= FOLD_LINES && text.length <= FOLD_BYTES)
        return pre;
    return h('details', { class: 'fold' }, h('summary', {}, `Show ${what} (${lines} lines, ${bytes(text.length)})`), pre);
}
function noResult(job) {
    if (job.status === 'succeeded')
        return 'null';
    return isFinal(job.status) ? `No result: the job ended ${job.status}.` : 'No result yet.';
}
function timeline(job) {
    const step = (name, at, note) => h('li', { class: at ? 'done' : 'pending' }, h('span', { class: 'step' }, name), h('time', { datetime: at }, time(at)), note ? h('span', { class: 'muted' }, note) : null);
    const queued = job.started_at ? `waited ${duration(between(job.created_at, job.started_at))}` : null;
    const ran = job.started_at ? `${job.finished_at ? 'ran' : 'running for'} ${duration(between(job.started_at, job.finished_at))}` : null;
    const later = Date.parse(job.run_after) > Date.parse(job.created_at) + 1000 && !job.started_at;
    return h('ol', { id: 'job-timeline', class: 'timeline' }, step('Created', job.created_at, later ? `not before ${time(job.run_after)}` : null), step('Started', job.started_at, queued), step('Finished', job.finished_at, ran));
}
function facts(job) {
    const row = (term, ...desc) => [h('dt', {}, term), h('dd', {}, ...desc)];
    return h('dl', { class: 'facts' }, ...row('Kind', job.kind), ...row('Attempts', `${job.attempt} of ${job.max_attempts}`), ...row('Priority', String(job.priority)), ...row('Timeout', duration(job.timeout_ms)), ...(job.instance ? row('Instance', job.instance) : []), ...(job.retry_of ? row('Retry of', link(`/jobs/${job.retry_of}`, { id: 'job-retry-of' }, h('code', {}, job.retry_of))) : []));
}
function attempts(job) {
    if (job.errors.length === 0)
        return h('p', { id: 'job-errors', class: 'muted' }, 'No attempt failed.');
    return h('div', { class: 'table-wrap' }, h('table', { id: 'job-errors', class: 'table' }, h('thead', {}, h('tr', {}, ...['Attempt', 'Code', 'Message', 'At', 'Instance'].map((t) => h('th', { scope: 'col' }, t)))), h('tbody', {}, ...job.errors.map((e) => h('tr', {}, h('td', { 'data-label': 'Attempt' }, String(e.attempt)), h('td', { 'data-label': 'Code' }, h('code', {}, e.code)), h('td', { 'data-label': 'Message' }, e.message), h('td', { 'data-label': 'At' }, time(e.at)), h('td', { 'data-label': 'Instance' }, e.instance ?? '—'))))));
}
function deps(job) {
    if (job.depends_on.length === 0)
        return h('p', { id: 'job-deps', class: 'muted' }, 'None.');
    return h('ul', { id: 'job-deps', class: 'links' }, ...job.depends_on.map((d) => h('li', {}, link(`/jobs/${d}`, {}, h('code', {}, d)))));
}
/** Saved files, with links; with an API key they download through fetch (links carry no header). */
function filesList(job) {
    const list = h('ul', { id: 'job-files', class: 'links' }, h('li', { class: 'muted' }, 'Loading…'));
    void api.files(job.id).then((files) => {
        if (files.length === 0) {
            fill(list, h('li', { class: 'muted' }, 'No saved files.'));
            return;
        }
        fill(list, ...files.map((f) => {
            const a = h('a', { href: api.fileUrl(job.id, f.name), download: f.name }, f.name);
            a.addEventListener('click', (e) => {
                if (!api.apiKey())
                    return;
                e.preventDefault();
                void download(job.id, f.name, a);
            });
            return h('li', {}, a, h('span', { class: 'muted' }, ` ${f.content_type}, ${bytes(f.bytes)}`));
        }));
    }, (err) => fill(list, h('li', {}, notice('error', errorText(err)))));
    return list;
}
async function download(id, name, anchor) {
    try {
        const blob = await api.fileBlob(id, name);
        const url = URL.createObjectURL(blob);
        const a = h('a', { href: url, download: name, hidden: true });
        document.body.append(a);
        a.click();
        a.remove();
        window.setTimeout(() => URL.revokeObjectURL(url), 60000);
    }
    catch (err) {
        anchor.after(notice('error', errorText(err)));
    }
}
/**
 * An action button. While its request runs it is `aria-disabled` (not `disabled`, which would
 * drop the keyboard focus) and ignores clicks.
 */
function button(id, text, cls, shown, action) {
    const b = h('button', { type: 'button', id, class: `btn ${cls}`, hidden: !shown }, text);
    b.addEventListener('click', () => {
        if (b.getAttribute('aria-disabled') === 'true')
            return;
        b.setAttribute('aria-disabled', 'true');
        void action().finally(() => {
            b.removeAttribute('aria-disabled');
        });
    });
    return b;
}
export function mountDetail(ctx, id) {
    const scope = new Scope();
    document.title = `Job ${id} · faena`;
    const messages = h('div', { class: 'messages', 'aria-live': 'polite' });
    const say = (kind, text) => fill(messages, notice(kind, text));
    let current = null;
    // Answers about the job (GET /jobs/{id}, the cancel's) are numbered when asked: one older
    // than the answer shown is dropped, and so is one that would take a final job back.
    let asked = 0;
    let shown = 0;
    const show = (job, n) => {
        if (!scope.alive || n <= shown)
            return;
        if (current && isFinal(current.status) && !isFinal(job.status))
            return;
        shown = n;
        render(job);
    };
    const act = (what, call, then) => async () => {
        try {
            then(await call());
        }
        catch (err) {
            say('error', `${what}: ${errorText(err)}`);
        }
    };
    const cancel = button('cancel-job', 'Cancel', 'btn-warn', false, () => {
        const n = ++asked;
        return act('Cancel', () => api.cancel(id), (j) => show(j, n))();
    });
    const retry = button('retry-job', 'Retry', 'btn-primary', false, act('Retry', () => api.retry(id), (j) => {
        location.hash = `#/jobs/${j.id}`;
    }));
    const remove = button('delete-job', 'Delete', 'btn-danger', false, act('Delete', () => api.remove(id), () => {
        location.hash = '#/jobs';
    }));
    const root = h('article', { id: 'job-detail', 'data-job-id': id, class: 'detail' }, loading('the job'));
    fill(ctx.root, root);
    let progress = null;
    function render(job) {
        // Rendered again on every change of state: the focus goes back where it was.
        const focused = document.activeElement instanceof HTMLElement && root.contains(document.activeElement) ? document.activeElement.id : '';
        current = job;
        cancel.hidden = isFinal(job.status);
        retry.hidden = !isRetryable(job.status);
        remove.hidden = !isFinal(job.status);
        progress = job.status === 'running' || job.progress ? progressBar(job.progress, 'Progress') : null;
        const error = job.error
            ? h('div', { id: 'job-error', class: 'notice notice-error', role: 'alert' }, h('code', {}, job.error.code), ' ', job.error.message)
            : null;
        const result = job.result !== undefined && job.result !== null
            ? section('Result', jsonBlock('job-result', job.result, 'the result'))
            : section('Result', h('pre', { id: 'job-result', class: 'json muted' }, noResult(job)));
        fill(root, h('div', { class: 'view-head' }, h('h1', {}, job.kind, ' ', h('code', { class: 'job-id' }, job.id)), h('span', { id: 'job-status', class: `badge badge-${job.status}` }, job.status)), h('div', { class: 'actions' }, cancel, retry, remove, link('/jobs', { class: 'btn btn-quiet' }, 'All jobs')), messages, error, h('div', { class: 'split' }, section('Summary', facts(job), progress), section('Timeline', timeline(job))), h('div', { class: 'split' }, section('Depends on', deps(job)), job.kind === 'fetch_urls' && isFinal(job.status) ? section('Saved files', filesList(job)) : null), section('Attempts that failed', attempts(job)), result, section('Parameters', jsonBlock('job-params', job.params, 'the parameters')));
        const again = focused ? document.getElementById(focused) : null;
        if (again && !again.hidden)
            again.focus();
        else if (again) {
            // Its button went away (Cancel, once the job is final): the next action takes the focus.
            const next = Array.from(root.querySelectorAll('.actions > .btn')).find((b) => !b.hidden);
            next?.focus();
        }
    }
    const refresh = async () => {
        const n = ++asked;
        try {
            const job = await api.job(id);
            show(job, n);
        }
        catch (err) {
            if (!scope.alive || n <= shown)
                return;
            if (!current)
                fill(root, failed('The job could not be loaded', err, ctx.reload));
            else
                say('error', errorText(err));
        }
    };
    // The state the stream said last: whether to follow it again when it ends depends on it,
    // not on `current` (which may be an answer from before the last event).
    let streamed = null;
    let deleted = false;
    void refresh().then(() => {
        if (!scope.alive || !current)
            return;
        scope.stream({
            path: api.jobEventsPath(id),
            reconnectAfterEnd: () => {
                if (deleted)
                    return false;
                if (streamed && isFinal(streamed.status)) {
                    // The job ended: stop, with its final state (and result) shown.
                    if (!current || current.status !== streamed.status)
                        void refresh();
                    return false;
                }
                return true;
            },
            // Nothing more for this job (it is final and every event was had): stop, and show it.
            onNoContent: () => void refresh(),
            onEvent: (ev) => {
                if (ev.event === 'reset')
                    void refresh();
                else if (ev.event === 'job') {
                    const state = eventData(ev);
                    if (!state)
                        return;
                    streamed = state;
                    // Another state than the one shown: the whole job again (events carry no result).
                    if (!current || state.status !== current.status || state.attempt !== current.attempt) {
                        void refresh();
                    }
                    else if (progress)
                        setProgress(progress, state.progress);
                }
                else if (ev.event === 'progress') {
                    const p = eventData(ev);
                    if (p && progress)
                        setProgress(progress, p);
                    else if (p && current?.status === 'running')
                        void refresh();
                }
                else if (ev.event === 'deleted') {
                    deleted = true;
                    say('ok', 'This job was deleted.');
                    cancel.hidden = retry.hidden = remove.hidden = true;
                }
            },
        });
    });
    // Timeline durations of a running job move on.
    scope.every(5000, async () => {
        const tl = root.querySelector('#job-timeline');
        if (current && !isFinal(current.status) && tl)
            tl.replaceWith(timeline(current));
    });
    return scope;
}
