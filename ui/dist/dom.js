// dom.ts — building the page without innerHTML: elements from a tag, attributes and children,
// where every string child becomes a text node (so data from the API is never parsed as HTML).
function setAttrs(el, attrs) {
    for (const [name, value] of Object.entries(attrs)) {
        if (value === null || value === undefined || value === false)
            continue;
        el.setAttribute(name, value === true ? '' : String(value));
    }
}
function append(el, children) {
    for (const c of children) {
        if (c === null || c === undefined || c === false)
            continue;
        el.append(c instanceof Node ? c : String(c));
    }
}
/** An HTML element. */
export function h(tag, attrs = {}, ...children) {
    const el = document.createElement(tag);
    setAttrs(el, attrs);
    append(el, children);
    return el;
}
const SVG_NS = 'http://www.w3.org/2000/svg';
/** An SVG element. */
export function s(tag, attrs = {}, ...children) {
    const el = document.createElementNS(SVG_NS, tag);
    setAttrs(el, attrs);
    append(el, children);
    return el;
}
/** Replaces the children of `el`. */
export function fill(el, ...children) {
    el.replaceChildren();
    append(el, children);
}
/** A link to a route of the dashboard. */
export function link(route, attrs, ...children) {
    return h('a', { ...attrs, href: `#${route}` }, ...children);
}
/** The element with this id, which the page must have. */
export function byId(id) {
    const el = document.getElementById(id);
    if (!el)
        throw new Error(`#${id} is missing from the page`);
    return el;
}
