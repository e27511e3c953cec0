// #/deployment/ID: a deployment's status, its task groups as progress bars, its
// allocations, its history with the engine's reasons ("why"), and the operator's
// actions — each behind a confirmation.

import { get, put, query, seg } from '/ui/api.js';
import { badge, bar, h, section, table } from '/ui/dom.js';
import { ago, clock, duration, fromNs, isoTime, isTerminal, shortId } from '/ui/format.js';
import { deploymentHref, jobHref } from '/ui/views/jobs.js';

export const title = (params) => `Deployment ${shortId(params.id)}`;

export async function load({ id }) {
  const d = await get(`/v1/deployment/${seg(id)}`);
  const [allocs, history, siblings] = await Promise.all([
    get(`/v1/deployment/allocations/${seg(id)}`),
    // The history is rollout's own endpoint; an old deployment may be past the
    // retained log (410): the rest of the page still stands.
    get(`/v1/deployment/${seg(id)}/history`).catch((error) => ({ error })),
    get(`/v1/job/${seg(d.JobID)}/deployments${query({ namespace: d.Namespace })}`).catch(() => []),
  ]);
  return { d, allocs, history, siblings };
}

/** The deployment, its allocations, and the job's other deployments (a rollback's
 * deployment appears as one of those). */
export function wants(e, params, data) {
  if (e.Key === params.id || (e.FilterKeys || []).includes(params.id)) return true;
  return Boolean(data && e.Topic === 'Deployment' && (e.FilterKeys || []).includes(data.d.JobID));
}

/** Said aloud (aria-live) when the status changes under the operator's eyes. */
export function announce(before, after) {
  if (before.d.ID !== after.d.ID || before.d.Status === after.d.Status) return null;
  return `Deployment ${shortId(after.d.ID)} is now ${after.d.Status}: ${after.d.StatusDescription}`;
}

const groupsOf = (d) => Object.entries(d.TaskGroups || {}).sort(([a], [b]) => a.localeCompare(b));
const needsPromotion = (g) => g.DesiredCanaries > 0 && !g.Promoted;

/** What a deployment that has not ended waits for, group by group. */
function waitingFor(d) {
  if (d.Status === 'paused') return [h('li', {}, 'The deployment is paused; resume it to go on.')];
  return groupsOf(d).map(([name, g]) => {
    if (needsPromotion(g)) {
      const placed = (g.PlacedCanaries || []).length;
      const then = g.AutoPromote ? 'then it promotes itself' : 'then it needs a promotion';
      return h('li', {}, `Group ${name}: ${placed} of ${g.DesiredCanaries} canaries placed, ${g.HealthyAllocs} allocations healthy; ${then}.`);
    }
    return h('li', {}, `Group ${name}: ${g.HealthyAllocs} of ${g.DesiredTotal} allocations healthy.`);
  });
}

/** The deployment that came after this one: for a failed one that rolled back, the
 * rollback's. */
function successor(d, siblings) {
  return siblings
    .filter((s) => s.CreateIndex > d.CreateIndex)
    .sort((a, b) => a.CreateIndex - b.CreateIndex)[0];
}

function rollback(d, siblings) {
  const next = successor(d, siblings);
  const m = /rolling back to job version (\d+)/.exec(d.StatusDescription);
  const link = next
    ? [h('a', { href: deploymentHref(next.ID), id: 'successor' }, `deployment ${shortId(next.ID)}`), ` (job version ${next.JobVersion}) `, badge(next.Status)]
    : null;
  if (m) {
    return h(
      'div',
      { class: 'rollback', role: 'note', 'aria-label': 'Rollback' },
      h('strong', {}, 'Rolled back: '),
      `the job's stable version ${m[1]} was registered again`,
      next ? [` as version ${next.JobVersion}, rolled out by `, link] : '.',
    );
  }
  return next ? h('p', { class: 'meta' }, 'Followed by ', link) : null;
}

function actions(d, ctx) {
  if (isTerminal(d.Status)) return null;
  const id = d.ID;
  const short = shortId(id);
  const canPromote = groupsOf(d).some(([, g]) => needsPromotion(g));
  const paused = d.Status === 'paused';
  return h(
    'div',
    { class: 'actions', role: 'group', 'aria-label': 'Deployment actions' },
    canPromote &&
      h(
        'button',
        {
          id: 'promote-all',
          class: 'primary',
          onclick: () =>
            ctx.act({
              title: `Promote deployment ${short}?`,
              text: 'The canaries of every group are promoted and the rest of the allocations are replaced. A promotion cannot be undone.',
              ok: 'Promote all',
              call: () => put(`/v1/deployment/promote/${seg(id)}`, { DeploymentID: id, All: true }),
              done: (r) => `Deployment ${short} promoted; evaluation ${shortId(r.EvalID)}.`,
            }),
        },
        'Promote all',
      ),
    h(
      'button',
      {
        id: paused ? 'resume' : 'pause',
        onclick: () =>
          ctx.act({
            title: `${paused ? 'Resume' : 'Pause'} deployment ${short}?`,
            text: paused ? 'Placements and replacements go on.' : 'No new allocations are placed or replaced until it is resumed.',
            ok: paused ? 'Resume' : 'Pause',
            call: () => put(`/v1/deployment/pause/${seg(id)}`, { DeploymentID: id, Pause: !paused }),
            done: () => `Deployment ${short} ${paused ? 'resumed' : 'paused'}.`,
          }),
      },
      paused ? 'Resume' : 'Pause',
    ),
    h(
      'button',
      {
        id: 'fail',
        class: 'danger',
        onclick: () =>
          ctx.act({
            title: `Fail deployment ${short}?`,
            text: 'The deployment is marked as failed; with auto-revert the job goes back to its latest stable version.',
            ok: 'Fail deployment',
            danger: true,
            call: () => put(`/v1/deployment/fail/${seg(id)}`, { DeploymentID: id }),
            done: (r) =>
              r.RevertedJobVersion === null || r.RevertedJobVersion === undefined
                ? `Deployment ${short} failed.`
                : `Deployment ${short} failed; rolling back to job version ${r.RevertedJobVersion}.`,
          }),
      },
      'Fail',
    ),
  );
}

function groupCard(d, name, g, ctx) {
  const active = !isTerminal(d.Status);
  const due = g.RequireProgressBy ? new Date(g.RequireProgressBy) : null;
  const key = name.replace(/[^A-Za-z0-9_-]/g, '_');
  const canaries = g.DesiredCanaries > 0;
  return h(
    'article',
    { class: 'group', 'aria-labelledby': `g-${key}` },
    h('h3', { id: `g-${key}` }, `Group ${name}`),
    bar(`g-${key}-placed`, 'Placed', g.PlacedAllocs, g.DesiredTotal),
    bar(`g-${key}-healthy`, 'Healthy', g.HealthyAllocs, g.DesiredTotal),
    bar(`g-${key}-unhealthy`, 'Unhealthy', g.UnhealthyAllocs, g.DesiredTotal),
    canaries && bar(`g-${key}-canaries`, 'Canaries placed', (g.PlacedCanaries || []).length, g.DesiredCanaries),
    h(
      'dl',
      { class: 'facts' },
      fact('Desired', g.DesiredTotal),
      fact('Canaries', canaries ? g.DesiredCanaries : 'none'),
      fact('Promoted', canaries ? (g.Promoted ? 'yes' : 'no') : '—'),
      fact('Auto-promote', g.AutoPromote ? 'on' : 'off'),
      fact('Auto-revert', g.AutoRevert ? 'on' : 'off'),
      fact('Progress deadline', g.ProgressDeadline ? duration(g.ProgressDeadline) : 'none'),
      g.ProgressDeadline && due && active
        ? fact('Progress due', h('time', { datetime: isoTime(due), 'data-countdown': true, title: isoTime(due) }, ''))
        : null,
    ),
    active &&
      needsPromotion(g) &&
      h(
        'button',
        {
          id: `promote-${key}`,
          onclick: () =>
            ctx.act({
              title: `Promote group ${name}?`,
              text: `The canaries of group ${name} in deployment ${shortId(d.ID)} are promoted. A promotion cannot be undone.`,
              ok: `Promote ${name}`,
              call: () => put(`/v1/deployment/promote/${seg(d.ID)}`, { DeploymentID: d.ID, Groups: [name] }),
              done: (r) => `Group ${name} promoted; evaluation ${shortId(r.EvalID)}.`,
            }),
        },
        `Promote ${name}`,
      ),
  );
}

function health(a) {
  const s = a.DeploymentStatus;
  if (!s || s.Healthy === null || s.Healthy === undefined) return h('span', { class: 'badge s-pending' }, 'unset');
  return s.Healthy ? badge('healthy') : badge('unhealthy');
}

function allocRow(d, a, ctx) {
  const short = shortId(a.ID);
  const active = !isTerminal(d.Status) && a.DesiredStatus === 'run';
  const mark = (healthy) =>
    h(
      'button',
      {
        id: `${healthy ? 'healthy' : 'unhealthy'}-${a.ID}`,
        class: healthy ? '' : 'danger',
        'aria-label': `Mark allocation ${short} ${healthy ? 'healthy' : 'unhealthy'}`,
        onclick: () =>
          ctx.act({
            title: `Mark allocation ${short} ${healthy ? 'healthy' : 'unhealthy'}?`,
            text: healthy
              ? 'It counts as healthy for the deployment.'
              : 'It counts as unhealthy: the deployment may fail (and roll back, with auto-revert).',
            ok: healthy ? 'Mark healthy' : 'Mark unhealthy',
            danger: !healthy,
            call: () =>
              put(`/v1/deployment/allocation-health/${seg(d.ID)}`, {
                DeploymentID: d.ID,
                HealthyAllocationIDs: healthy ? [a.ID] : [],
                UnhealthyAllocationIDs: healthy ? [] : [a.ID],
              }),
            done: () => `Allocation ${short} marked ${healthy ? 'healthy' : 'unhealthy'}.`,
          }),
      },
      healthy ? 'Healthy' : 'Unhealthy',
    );
  return h(
    'tr',
    {},
    h('th', { scope: 'row' }, h('code', { title: a.ID }, short)),
    h('td', {}, a.TaskGroup),
    h('td', { class: 'num' }, a.JobVersion),
    h('td', {}, a.DeploymentStatus && a.DeploymentStatus.Canary ? 'canary' : '—'),
    h('td', {}, badge(a.ClientStatus), a.DesiredStatus !== 'run' ? ` (${a.DesiredStatus})` : ''),
    h('td', {}, health(a)),
    h('td', {}, a.NodeName || shortId(a.NodeID)),
    h('td', { class: 'row-actions' }, active ? [mark(true), mark(false)] : '—'),
  );
}

// Who made a write (http-api.md R13): "operator ci-token (accessor 3f2a1b2c)", "client";
// nothing for a write logged before actors were recorded.
function actorText(a) {
  if (!a || !a.Kind) return null;
  let text = a.Kind;
  if (a.Name) text += ` ${a.Name}`;
  if (a.AccessorID) text += ` (accessor ${shortId(a.AccessorID)})`;
  return text;
}

function historyItem(e) {
  const actor = actorText(e.Actor);
  const status = e.Status
    ? e.Status.From
      ? [badge(e.Status.From), ' → ', badge(e.Status.To)]
      : ['created ', badge(e.Status.To)]
    : null;
  const counters = Object.entries(e.Groups || {}).map(([group, changed]) =>
    h(
      'li',
      {},
      `${group}: `,
      Object.entries(changed)
        .map(([counter, t]) => `${counter} ${t.From} → ${t.To}`)
        .join(', '),
    ),
  );
  const decisions = (e.Decisions || []).map((c) =>
    h('li', {}, h('abbr', { class: 'rule', title: `rule ${c.Rule}` }, c.Rule), ` ${c.Topic} ${shortId(c.Key)}: ${c.Reason}`),
  );
  return h(
    'li',
    { class: 'event' },
    h(
      'p',
      { class: 'when' },
      h('span', { class: 'index' }, `#${e.Index}`),
      ` ${clock(fromNs(e.Time))} · ${e.Type} `,
      status,
      actor ? h('span', { class: 'actor' }, ` by ${actor}`) : null,
    ),
    status ? h('p', { class: 'desc' }, e.StatusDescription) : null,
    counters.length ? h('ul', { class: 'counters' }, counters) : null,
    decisions.length ? h('ul', { class: 'decisions', 'aria-label': 'Decisions' }, decisions) : null,
  );
}

export function render({ d, allocs, history, siblings }, params, ctx) {
  const active = !isTerminal(d.Status);
  const sortedAllocs = [...allocs].sort((a, b) => a.Name.localeCompare(b.Name) || b.CreateIndex - a.CreateIndex);
  return [
    h(
      'nav',
      { 'aria-label': 'Breadcrumb', class: 'crumbs' },
      h('a', { href: '#/jobs' }, 'Jobs'),
      ' › ',
      h('a', { href: jobHref(d.Namespace, d.JobID) }, d.JobID),
      ` › Deployment ${shortId(d.ID)}`,
    ),
    h('h1', {}, `Deployment ${shortId(d.ID)} `, badge(d.Status)),
    h('p', { class: 'status-desc', id: 'status-desc' }, d.StatusDescription),
    h(
      'p',
      { class: 'meta' },
      'Job ',
      h('a', { href: jobHref(d.Namespace, d.JobID) }, d.JobID),
      ` · version ${d.JobVersion} · namespace ${d.Namespace} · created ${ago(fromNs(d.CreateTime))} · changed ${ago(fromNs(d.ModifyTime))} · `,
      h('code', {}, d.ID),
    ),
    rollback(d, siblings),
    actions(d, ctx),
    active ? h('div', { class: 'waiting' }, h('p', {}, 'Waiting for:'), h('ul', {}, waitingFor(d))) : null,
    section('groups', 'Task groups', h('div', { class: 'groups' }, groupsOf(d).map(([name, g]) => groupCard(d, name, g, ctx)))),
    section(
      'allocations',
      'Allocations',
      sortedAllocs.length
        ? table(
            `Allocations of deployment ${shortId(d.ID)}`,
            ['Allocation', 'Group', 'Version', 'Canary', 'Client status', 'Health', 'Node', 'Set health'],
            sortedAllocs.map((a) => allocRow(d, a, ctx)),
          )
        : h('p', {}, 'No allocations yet.'),
    ),
    section(
      'history',
      'History and why',
      history.error
        ? h('p', { class: 'error' }, `History unavailable: ${history.error.explain ? history.error.explain() : history.error.message}`)
        : h('ol', { class: 'history' }, history.map(historyItem)),
    ),
  ];
}

function fact(name, value) {
  return [h('dt', {}, name), h('dd', {}, value)];
}
