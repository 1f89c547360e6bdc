// format.ts — how numbers, times, durations and ids read on the dashboard.
const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
export function count(n) {
    return integer.format(n);
}
/** Bytes as B, KB, MB (powers of 1024). */
export function bytes(n) {
    if (n < 1024)
        return `${n} B`;
    const units = ['KB', 'MB', 'GB', 'TB'];
    let v = n / 1024;
    let i = 0;
    while (v >= 1024 && i < units.length - 1) {
        v /= 1024;
        i++;
    }
    return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}
/** A duration in ms, in the largest units that matter: `850 ms`, `12.4 s`, `3 m 05 s`, `2 h 01 m`. */
export function duration(ms) {
    if (!Number.isFinite(ms) || ms < 0)
        return '—';
    if (ms < 1000)
        return `${Math.round(ms)} ms`;
    const secs = ms / 1000;
    if (secs < 60)
        return `${secs.toFixed(secs < 10 ? 2 : 1)} s`;
    const total = Math.floor(secs);
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    const sec = total % 60;
    const two = (x) => String(x).padStart(2, '0');
    return h > 0 ? `${h} h ${two(m)} m` : `${m} m ${two(sec)} s`;
}
/** Milliseconds between two timestamps (the second defaults to now). */
export function between(from, to = null) {
    const end = to ? Date.parse(to) : Date.now();
    return end - Date.parse(from);
}
/** A timestamp in local time, `2026-11-26 18:00:01`. */
export function time(iso) {
    if (!iso)
        return '—';
    const d = new Date(iso);
    if (Number.isNaN(d.getTime()))
        return iso;
    const two = (x) => String(x).padStart(2, '0');
    return (`${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ` +
        `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`);
}
/** How long ago, roughly: `5 s ago`, `3 min ago`, `2 h ago`, else the date. */
export function ago(iso) {
    if (!iso)
        return '—';
    const secs = Math.round((Date.now() - Date.parse(iso)) / 1000);
    if (!Number.isFinite(secs))
        return iso;
    if (secs < 5)
        return 'just now';
    if (secs < 60)
        return `${secs} s ago`;
    if (secs < 3600)
        return `${Math.floor(secs / 60)} min ago`;
    if (secs < 86400)
        return `${Math.floor(secs / 3600)} h ago`;
    return time(iso);
}
/**
 * A job id made short for tables: its last 12 hex digits. Ids are UUID v7, whose first digits
 * are a timestamp that jobs submitted together share; the end is random.
 */
export function shortId(id) {
    return id.length > 12 ? id.slice(-12) : id;
}
/** `running` → `Running`, `timed_out` → `Timed out`. */
export function label(code) {
    const words = code.replace(/_/g, ' ');
    return words.charAt(0).toUpperCase() + words.slice(1);
}
/** Percentage of a progress, `42%`. */
export function percent(done, total) {
    if (total <= 0)
        return '—';
    return `${Math.floor((100 * done) / total)}%`;
}
