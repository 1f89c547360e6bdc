// widgets.ts — small pieces several views share: status badges, progress bars, notices, the
// panel shown when a view cannot load, and the API's prose with its `code` spans.
import { ApiError } from './api.js';
import { h } from './dom.js';
import { count, percent } from './format.js';
/** A coloured badge; its text is exactly the status (the browser tests read it). */
export function badge(status) {
    return h('span', { class: `badge badge-${status}` }, status);
}
/** A <progress> with its figures beside it; empty text when the job reports no progress. */
export function progressBar(progress, label) {
    const bar = h('progress', { max: 1, 'aria-label': label });
    const text = h('span', { class: 'progress-text' });
    const wrap = h('span', { class: 'progress' }, bar, text);
    setProgress(wrap, progress);
    return wrap;
}
/** Updates a bar made by {@link progressBar}. */
export function setProgress(wrap, progress) {
    const bar = wrap.querySelector('progress');
    const text = wrap.querySelector('.progress-text');
    if (!bar || !text)
        return;
    if (progress && progress.total > 0) {
        bar.max = progress.total;
        bar.value = Math.min(progress.done, progress.total);
        text.textContent = `${percent(progress.done, progress.total)} · ${count(progress.done)}/${count(progress.total)}`;
    }
    else {
        // Indeterminate: no value attribute.
        bar.removeAttribute('value');
        text.textContent = '';
    }
}
/** What an error says to a user. */
export function errorText(err) {
    if (err instanceof ApiError) {
        const code = err.problem ? ` (${err.problem.code})` : '';
        return `${err.message}${code}`;
    }
    return err instanceof Error ? err.message : String(err);
}
/** A notice: `kind` error, ok or info. Announced to screen readers. */
export function notice(kind, text) {
    return h('div', { class: `notice notice-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
}
/** The panel of a view that could not load, with a button to try again. */
export function failed(title, err, retry) {
    const again = h('button', { type: 'button', class: 'btn' }, 'Try again');
    again.addEventListener('click', retry);
    return h('section', { class: 'card failed' }, h('h2', {}, title), notice('error', errorText(err)), again);
}
export function loading(what) {
    return h('p', { class: 'muted loading', role: 'status' }, `Loading ${what}…`);
}
/** Text from the API (a kind's summary, a schema's description) with its `backticked` spans as code. */
export function prose(text) {
    const parts = text.split('`');
    // An odd number of backticks: no pairs to trust, the text as it is.
    if (parts.length % 2 === 0)
        return [text];
    return parts.map((p, i) => (i % 2 === 1 ? h('code', {}, p) : p)).filter((c) => c !== '');
}
