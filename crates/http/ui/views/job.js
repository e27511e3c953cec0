// #/job/NS/ID: a job, its versions with what changed from one to the next and whether
// each is stable, and its deployments.

import { get, query, seg } from '/ui/api.js';
import { badge, h, section, table } from '/ui/dom.js';
import { ago, fromNs, shortId } from '/ui/format.js';
import { deploymentHref } from '/ui/views/jobs.js';

export const title = (params) => `Job ${params.id}`;

export async function load({ namespace, id }) {
  const [job, versions, deployments] = await Promise.all([
    get(`/v1/job/${seg(id)}${query({ namespace })}`),
    get(`/v1/job/${seg(id)}/versions${query({ namespace, diffs: 'true' })}`),
    get(`/v1/job/${seg(id)}/deployments${query({ namespace })}`),
  ]);
  return { job, versions, deployments };
}

/** This job's own writes, and its deployments'. */
export function wants(e, params) {
  if (e.Namespace && e.Namespace !== params.namespace) return false;
  if (e.Topic === 'Job') return e.Key === params.id;
  if (e.Topic === 'Deployment') return (e.FilterKeys || []).includes(params.id);
  return false;
}

const SIGN = { Added: '+', Deleted: '-', Edited: '+/-' };

function fieldItem(f) {
  const value =
    f.Type === 'Added' ? [h('code', {}, f.New)] : f.Type === 'Deleted' ? [h('code', {}, f.Old)] : [h('code', {}, f.Old), ' → ', h('code', {}, f.New)];
  const notes = f.Annotations && f.Annotations.length ? ` (${f.Annotations.join(', ')})` : '';
  return h('li', { class: `d-${f.Type}` }, `${SIGN[f.Type] || ''} ${f.Name}: `, value, notes);
}

/** Fields, objects, groups and tasks of a diff, as nested lists; unchanged ones left out. */
function diffItems(d) {
  const items = [];
  for (const f of d.Fields || []) if (f.Type !== 'None') items.push(fieldItem(f));
  for (const o of d.Objects || []) {
    if (o.Type !== 'None') items.push(h('li', { class: `d-${o.Type}` }, `${SIGN[o.Type] || ''} ${o.Name}`, diffList(o)));
  }
  for (const g of d.TaskGroups || []) {
    if (g.Type !== 'None') items.push(h('li', { class: `d-${g.Type}` }, `${SIGN[g.Type] || ''} Task group "${g.Name}"`, diffList(g)));
  }
  for (const t of d.Tasks || []) {
    if (t.Type !== 'None') {
      const notes = t.Annotations && t.Annotations.length ? ` (${t.Annotations.join(', ')})` : '';
      items.push(h('li', { class: `d-${t.Type}` }, `${SIGN[t.Type] || ''} Task "${t.Name}"${notes}`, diffList(t)));
    }
  }
  return items;
}

function diffList(d) {
  const items = diffItems(d);
  return items.length ? h('ul', { class: 'diff' }, items) : null;
}

function versionItem(v, diff, older, deployment, newest) {
  const changes = diff ? diffItems(diff) : [];
  return h(
    'li',
    { class: 'version' },
    h(
      'h3',
      {},
      `Version ${v.Version} `,
      v.Stable ? badge('stable') : h('span', { class: 'badge s-unstable' }, 'not stable'),
    ),
    h(
      'p',
      { class: 'meta' },
      `Submitted ${ago(fromNs(v.SubmitTime))}`,
      deployment
        ? [' · deployment ', h('a', { href: deploymentHref(deployment.ID) }, h('code', {}, shortId(deployment.ID))), ' ', badge(deployment.Status)]
        : ' · no deployment',
    ),
    older === undefined
      ? null
      : changes.length
        ? h('details', { open: newest }, h('summary', {}, `Changes from version ${older.Version}`), h('ul', { class: 'diff' }, changes))
        : h('p', { class: 'meta' }, `Same specification as version ${older.Version}.`),
  );
}

export function render({ job, versions, deployments }) {
  const deps = [...deployments].sort((a, b) => b.CreateIndex - a.CreateIndex);
  const byVersion = new Map();
  for (const d of deps) if (!byVersion.has(d.JobVersion)) byVersion.set(d.JobVersion, d);
  const list = versions.Versions || [];
  const diffs = versions.Diffs || [];
  const rows = deps.map((d) =>
    h(
      'tr',
      {},
      h('th', { scope: 'row' }, h('a', { href: deploymentHref(d.ID), id: `dep-${d.ID}` }, h('code', {}, shortId(d.ID)))),
      h('td', { class: 'num' }, d.JobVersion),
      h('td', {}, badge(d.Status)),
      h('td', {}, d.StatusDescription),
      h('td', {}, ago(fromNs(d.CreateTime))),
    ),
  );
  return [
    h('nav', { 'aria-label': 'Breadcrumb', class: 'crumbs' }, h('a', { href: '#/jobs' }, 'Jobs'), ' › ', job.ID),
    h('h1', {}, `Job ${job.ID}`),
    h(
      'dl',
      { class: 'facts' },
      fact('Status', badge(job.Status)),
      fact('Namespace', job.Namespace),
      fact('Type', job.Type),
      fact('Version', job.Version),
      fact('Stable', job.Stable ? 'yes' : 'no'),
      fact('Submitted', ago(fromNs(job.SubmitTime))),
    ),
    section(
      'deployments',
      'Deployments',
      deps.length ? table(`Deployments of ${job.ID}`, ['Deployment', 'Version', 'Status', 'Description', 'Created'], rows) : h('p', {}, 'No deployments.'),
    ),
    section(
      'versions',
      'Versions',
      h('ul', { class: 'versions' }, list.map((v, i) => versionItem(v, diffs[i], list[i + 1], byVersion.get(v.Version), i === 0))),
    ),
  ];
}

function fact(name, value) {
  return [h('dt', {}, name), h('dd', {}, value)];
}
