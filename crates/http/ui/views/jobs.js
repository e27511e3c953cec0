// #/jobs: every job the token may list, with its status, version and latest deployment.

import { get, seg } from '/ui/api.js';
import { badge, h, table } from '/ui/dom.js';
import { ago, fromNs, shortId } from '/ui/format.js';

export const title = () => 'Jobs';

export async function load() {
  const [jobs, deployments] = await Promise.all([
    get('/v1/jobs?namespace=*'),
    get('/v1/deployments?namespace=*'),
  ]);
  return { jobs, deployments };
}

/** Any job, deployment or allocation change can change this list. */
export const wants = () => true;

export const jobHref = (namespace, id) => `#/job/${seg(namespace)}/${seg(id)}`;
export const deploymentHref = (id) => `#/deployment/${seg(id)}`;

/** The newest deployment of each job, keyed by namespace and job ID. */
function latestDeployments(deployments) {
  const latest = new Map();
  for (const d of deployments) {
    const key = `${d.Namespace}\u0000${d.JobID}`;
    const seen = latest.get(key);
    if (!seen || d.CreateIndex > seen.CreateIndex) latest.set(key, d);
  }
  return latest;
}

/** "2 running, 1 starting" from a job's allocation summary. */
function allocations(summary) {
  const totals = {};
  for (const g of Object.values(summary || {})) {
    for (const [k, v] of Object.entries(g)) totals[k] = (totals[k] || 0) + v;
  }
  const parts = ['Running', 'Starting', 'Failed', 'Lost', 'Queued']
    .filter((k) => totals[k])
    .map((k) => `${totals[k]} ${k.toLowerCase()}`);
  return parts.length ? parts.join(', ') : 'none';
}

export function render({ jobs, deployments }) {
  const latest = latestDeployments(deployments);
  const sorted = [...jobs].sort((a, b) => a.Namespace.localeCompare(b.Namespace) || a.ID.localeCompare(b.ID));
  const rows = sorted.map((j) => {
    const d = latest.get(`${j.Namespace}\u0000${j.ID}`);
    return h(
      'tr',
      {},
      h('th', { scope: 'row' }, h('a', { href: jobHref(j.Namespace, j.ID), id: `job-${j.Namespace}-${j.ID}` }, j.ID)),
      h('td', {}, j.Namespace),
      h('td', {}, j.Type),
      h('td', {}, badge(j.Status)),
      h('td', { class: 'num' }, j.Version),
      h('td', {}, allocations(j.JobSummary && j.JobSummary.Summary)),
      h(
        'td',
        {},
        d
          ? [
              h('a', { href: deploymentHref(d.ID), 'aria-label': `Deployment ${shortId(d.ID)} of ${j.ID}` }, h('code', {}, shortId(d.ID))),
              ' ',
              badge(d.Status),
              ` v${d.JobVersion} · ${ago(fromNs(d.CreateTime))}`,
              h('div', { class: 'desc' }, d.StatusDescription),
            ]
          : '—',
      ),
    );
  });
  return [
    h('h1', {}, 'Jobs'),
    jobs.length
      ? table('Jobs', ['Job', 'Namespace', 'Type', 'Status', 'Version', 'Allocations', 'Latest deployment'], rows)
      : h('p', {}, 'No jobs yet. Register one with ', h('code', {}, 'rollout job run FILE'), ' or ', h('code', {}, 'PUT /v1/jobs'), '.'),
  ];
}
