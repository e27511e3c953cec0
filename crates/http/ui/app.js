// The page: a view per hash route (#/jobs, #/job/NS/ID, #/deployment/ID), read from the
// API, redrawn when the event stream says something it shows has changed.

import { ApiError, setToken, token } from '/ui/api.js';
import { confirmAction } from '/ui/confirm.js';
import { h, replace } from '/ui/dom.js';
import { countdown } from '/ui/format.js';
import { follow } from '/ui/live.js';
import * as deploymentView from '/ui/views/deployment.js';
import * as jobView from '/ui/views/job.js';
import * as jobsView from '/ui/views/jobs.js';

const main = document.getElementById('main');
const flashBox = document.getElementById('flash');
const liveBox = document.getElementById('live');
const announceBox = document.getElementById('announce');

/** The view and its parameters for the current location. */
function route() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  if (parts[0] === 'job' && parts.length === 3) return { view: jobView, params: { namespace: parts[1], id: parts[2] } };
  if (parts[0] === 'deployment' && parts[1]) return { view: deploymentView, params: { id: parts[1] } };
  return { view: jobsView, params: {} };
}

let current = route();
let loading = false;
let again = false;
let headingFocus = false;
let firstView = true;

/** Reads the current view and draws it. Calls while a read is under way are folded into
 * one more read after it, so a burst of events costs two reads, not one per event. */
async function refresh() {
  if (loading) {
    again = true;
    return;
  }
  loading = true;
  try {
    do {
      again = false;
      const shown = current;
      let nodes;
      let ok = false;
      try {
        const data = await shown.view.load(shown.params);
        if (shown !== current) {
          again = true;
          continue;
        }
        const said = shown.data && shown.view.announce ? shown.view.announce(shown.data, data) : null;
        if (said) announceBox.textContent = said;
        shown.data = data;
        nodes = shown.view.render(data, shown.params, ctx);
        ok = true;
      } catch (e) {
        if (shown !== current) {
          again = true;
          continue;
        }
        nodes = failure(e);
      }
      document.title = `${shown.view.title(shown.params, shown.data)} · rollout`;
      replace(main, nodes);
      tickCountdowns();
      if (headingFocus) {
        headingFocus = false;
        const h1 = main.querySelector('h1');
        if (h1) {
          h1.setAttribute('tabindex', '-1');
          h1.focus();
        }
      }
      if (ok && firstView) {
        firstView = false;
        performance.mark('rollout:first-view');
      }
    } while (again);
  } finally {
    loading = false;
  }
}

function failure(e) {
  const text = e instanceof ApiError ? e.explain() : `The page failed: ${e.message}`;
  return [h('h1', {}, current.view.title(current.params)), h('p', { class: 'error', role: 'alert' }, text)];
}

/** A message about the last action, kept across redraws until the next navigation. */
function flash(text, kind) {
  flashBox.replaceChildren(h('p', { class: kind, role: kind === 'error' ? 'alert' : null }, text));
}

/** What views get: actions go through a confirmation, then the API; the answer (or the
 * API's refusal, word for word) is shown, and the view is read again. */
const ctx = {
  async act({ title, text, ok, danger, call, done }) {
    if (!(await confirmAction({ title, text, ok, danger }))) return;
    try {
      const answer = await call();
      flash(done(answer), 'ok');
    } catch (e) {
      flash(e instanceof ApiError ? e.explain() : String(e), 'error');
    }
    refresh();
  },
};

// The skip link moves the focus without touching the hash, which holds the route.
document.querySelector('.skip').addEventListener('click', (e) => {
  e.preventDefault();
  main.focus();
});

window.addEventListener('hashchange', () => {
  current = route();
  flashBox.replaceChildren();
  headingFocus = true;
  refresh();
});

// The token: kept in this tab's session storage; a new one restarts the stream (the old
// one may have been refused) and reads the view with it.
const tokenForm = document.getElementById('token-form');
const tokenInput = document.getElementById('token');
function showTokenState() {
  tokenInput.placeholder = token() ? 'a token is in use (hidden)' : 'secret ID (only with ACLs on)';
}
tokenForm.addEventListener('submit', (e) => {
  e.preventDefault();
  setToken(tokenInput.value.trim());
  tokenInput.value = '';
  showTokenState();
  flash(token() ? 'Token set for this tab.' : 'No token: requests are anonymous.', 'ok');
  stream.restart();
  refresh();
});
document.getElementById('token-forget').addEventListener('click', () => {
  setToken('');
  tokenInput.value = '';
  showTokenState();
  flash('Token forgotten: requests are anonymous.', 'ok');
  stream.restart();
  refresh();
});
showTokenState();

const stream = follow({
  onFrame(frame) {
    const { view, params, data } = current;
    if (frame.Events.some((e) => view.wants(e, params, data))) refresh();
  },
  onConnected: refresh,
  onState({ state, message }) {
    liveBox.textContent = message;
    liveBox.dataset.state = state;
  },
});

/** The progress deadlines count down on the page's own clock; nothing is fetched. */
function tickCountdowns() {
  for (const t of document.querySelectorAll('time[data-countdown]')) {
    t.textContent = countdown(new Date(t.dateTime));
  }
}
setInterval(tickCountdowns, 1000);

refresh();
