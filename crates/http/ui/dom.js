// Building the page: elements from plain calls, text always inserted as text (never as
// markup: job names, descriptions and reasons come from the API).

/**
 * h('a', {href: '#/jobs', class: 'x'}, 'text', child, [more]) → an element.
 * Attributes: `on*` functions become listeners; `true` sets a bare attribute; `false`,
 * null and undefined leave it out. Children: strings, numbers, nodes, arrays; null and
 * false are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/**
 * Replaces the children of `container` with `nodes`, keeping the keyboard where it was:
 * if an element with an id had the focus, its replacement (same id) gets it back, so a
 * live update never throws the operator to the top of the page.
 */
export function replace(container, nodes) {
  const focused = document.activeElement;
  const id = focused && container.contains(focused) && focused.id ? focused.id : null;
  container.replaceChildren(...[nodes].flat(Infinity).filter((n) => n !== null && n !== undefined && n !== false));
  if (id) {
    const again = document.getElementById(id);
    if (again) again.focus({ preventScroll: true });
  }
}

/** A section with a heading, labelled by it (a landmark for screen readers). */
export function section(id, title, ...children) {
  return h('section', { 'aria-labelledby': `${id}-h`, id }, h('h2', { id: `${id}-h` }, title), ...children);
}

/** A table in a scroll box (narrow screens scroll it, not the page); the box is
 * focusable so the keyboard can scroll it too. */
export function table(label, head, rows) {
  return h(
    'div',
    { class: 'scroll', role: 'region', 'aria-label': label, tabindex: 0 },
    h(
      'table',
      {},
      h('thead', {}, h('tr', {}, head.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, rows),
    ),
  );
}

/** `value of max` as a labelled progress bar with its numbers in text. */
export function bar(id, label, value, max) {
  const shown = Math.max(0, Math.min(value, max));
  return h(
    'div',
    { class: 'bar' },
    h('label', { for: id }, label),
    h('progress', { id, max: Math.max(max, 1), value: max > 0 ? shown : 0 }),
    h('span', { class: 'count' }, `${value} / ${max}`),
  );
}

/** A status word as a badge (its colour repeats the word, it never replaces it). */
export function badge(status) {
  return h('span', { class: `badge s-${String(status).replace(/[^a-z-]/g, '')}` }, status);
}
