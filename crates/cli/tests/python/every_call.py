"""Every call of python-nomad 2.1.0 against `rollout agent --dev`, with its status.

Run by .ci/run with the pinned client:

    python3 crates/cli/tests/python/every_call.py 127.0.0.1 4747

Each call is one of:
- `works`: maps to a rollout feature and must succeed (its answer is checked);
- `refused`: maps to a feature rollout deliberately does not have (periodic launches,
  dispatch): it must be a 400 whose text says why, never a 404;
- `absent`: an endpoint rollout does not serve: it must be a 404 whose text names the
  route (`rollout does not implement ...`), never an empty body.

Prints a table (call, status, detail) and exits 1 if any call behaves otherwise.
"""
import sys
import time

import nomad

from calls import absent, finish, refused, works

host, port = sys.argv[1], int(sys.argv[2])
n = nomad.Nomad(host=host, port=port, timeout=10)


def job(image, count=2, canary=1, health_check="checks"):
    return {
        "Job": {
            "ID": "web",
            "Name": "web",
            "TaskGroups": [
                {
                    "Name": "web",
                    "Count": count,
                    "Update": {
                        "MaxParallel": 1,
                        "MinHealthyTime": 0,
                        "Canary": canary,
                        "AutoRevert": True,
                        "HealthCheck": health_check,
                    },
                    "Tasks": [
                        {"Name": "app", "Driver": "docker", "Config": {"image": image}}
                    ],
                }
            ],
        }
    }


def wait_for(what, predicate, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    sys.exit(f"timed out waiting for {what}")


# --- the agent --------------------------------------------------------------------------
works("status.leader.get_leader", n.status.leader.get_leader, lambda r: ":" in r)
works("status.peers.get_peers", n.status.peers.get_peers, lambda r: len(r) == 1)
works("regions.get_regions", n.regions.get_regions, lambda r: r == ["global"])
works("agent.get_agent", n.agent.get_agent, lambda r: r["config"]["Region"] == "global")
works("agent.get_members", n.agent.get_members, lambda r: len(r["Members"]) == 1)
works("agent.get_servers", n.agent.get_servers, lambda r: len(r) == 1)
works("metrics.get_metrics", n.metrics.get_metrics, lambda r: "Gauges" in r and "Samples" in r)

# --- namespaces -------------------------------------------------------------------------
works("namespace.create_namespace", lambda: n.namespace.create_namespace({"Name": "team", "Description": "t"}))
works("namespace.update_namespace", lambda: n.namespace.update_namespace("team", {"Name": "team", "Description": "u"}))
works("namespace.get_namespace", lambda: n.namespace.get_namespace("team"), lambda r: r["Description"] == "u")
works("namespaces.get_namespaces", n.namespaces.get_namespaces, lambda r: [x["Name"] for x in r] == ["default", "team"])
works("namespace.delete_namespace", lambda: n.namespace.delete_namespace("team"))

# --- jobs -------------------------------------------------------------------------------
hcl = 'job "web" {\n  group "web" {\n    task "app" {\n      driver = "docker"\n    }\n  }\n}\n'
works("jobs.parse", lambda: n.jobs.parse(hcl), lambda r: r["ID"] == "web")
works("validate.validate_job", lambda: n.validate.validate_job(job("app:1")))
works("jobs.register_job", lambda: n.jobs.register_job(job("app:1", canary=0)), lambda r: r["EvalID"])
wait_for("version 0 stable", lambda: n.job.get_job("web")["Stable"])
works("job.plan_job", lambda: n.job.plan_job("web", job("app:2"), diff=True), lambda r: "Diff" in r)
works("job.register_job", lambda: n.job.register_job("web", job("app:2")), lambda r: r["EvalID"])
works("jobs.get_jobs", n.jobs.get_jobs, lambda r: r[0]["ID"] == "web")
works("job.get_job", lambda: n.job.get_job("web"), lambda r: r["Version"] == 1)
works("job.get_versions", lambda: n.job.get_versions("web"), lambda r: len(r["Versions"]) == 2)
works("job.get_summary", lambda: n.job.get_summary("web"), lambda r: "web" in r["Summary"])
d = works("job.get_deployment", lambda: n.job.get_deployment("web"), lambda r: r["JobVersion"] == 1)
works("job.get_deployments", lambda: n.job.get_deployments("web"), lambda r: len(r) == 2)
works("job.get_evaluations", lambda: n.job.get_evaluations("web"), lambda r: len(r) >= 2)
deployment = d["ID"]
wait_for(
    "the canary healthy",
    lambda: any(
        (a.get("DeploymentStatus") or {}).get("Healthy")
        for a in n.deployment.get_deployment_allocations(deployment)
    ),
)
works("deployments.get_deployments", n.deployments.get_deployments, lambda r: len(r) == 2)
works("deployment.get_deployment", lambda: n.deployment.get_deployment(deployment), lambda r: r["ID"] == deployment)
allocs = works(
    "deployment.get_deployment_allocations",
    lambda: n.deployment.get_deployment_allocations(deployment),
    lambda r: len(r) >= 1,
)
works("deployment.pause_deployment", lambda: n.deployment.pause_deployment(deployment, pause=True))
works("deployment.pause_deployment (resume)", lambda: n.deployment.pause_deployment(deployment, pause=False))
works("deployment.promote_deployment_groups", lambda: n.deployment.promote_deployment_groups(deployment, ["web"]))
wait_for("version 1 successful", lambda: n.deployment.get_deployment(deployment)["Status"] == "successful")
# Version 2 with manual health: nothing is healthy until the operator says so.
works("job.register_job (v2, manual health)", lambda: n.job.register_job("web", job("app:3", health_check="manual")))
third = wait_for(
    "version 2's deployment", lambda: [x for x in n.job.get_deployments("web") if x["JobVersion"] == 2]
)[0]["ID"]
canary = wait_for(
    "version 2's canary running",
    lambda: [
        a["ID"]
        for a in n.deployment.get_deployment_allocations(third)
        if a["ClientStatus"] == "running"
    ],
)
works(
    "deployment.deployment_allocation_health",
    lambda: n.deployment.deployment_allocation_health(third, healthy_allocations=canary),
)
works("deployment.promote_deployment_all", lambda: n.deployment.promote_deployment_all(third))
works(
    "deployment.fail_deployment",
    lambda: n.deployment.fail_deployment(third),
    lambda r: r["RevertedJobVersion"] == 1,
)
works("job.stable_job", lambda: n.job.stable_job("web", 0, True))
works("job.revert_job", lambda: n.job.revert_job("web", 0), lambda r: r["EvalID"])
works("job.evaluate_job", lambda: n.job.evaluate_job("web"), lambda r: r["EvalID"])
evals = works("evaluations.get_evaluations", n.evaluations.get_evaluations, lambda r: len(r) >= 1)
works("evaluation.get_evaluation", lambda: n.evaluation.get_evaluation(evals[0]["ID"]))
works("evaluation.get_allocations", lambda: n.evaluation.get_allocations(evals[-1]["ID"]), lambda r: isinstance(r, list))
all_allocs = works("allocations.get_allocations", n.allocations.get_allocations, lambda r: len(r) >= 1)
works("allocation.get_allocation", lambda: n.allocation.get_allocation(all_allocs[0]["ID"]), lambda r: r["Job"])
works("job.get_allocations", lambda: n.job.get_allocations("web"), lambda r: len(r) >= 1)
refused("job.periodic_job", lambda: n.job.periodic_job("web"), "is not periodic")
refused("job.dispatch_job", lambda: n.job.dispatch_job("web"), "is not a parameterized job")
works("job.deregister_job", lambda: n.job.deregister_job("web", purge=False), lambda r: r["EvalID"])

works("operator.get_configuration", n.operator.get_configuration,
      lambda r: [(x["Leader"], x["Voter"]) for x in r["Servers"]] == [(True, True)])

# A single agent has no peer to remove (a cluster member would remove it).
refused("operator.delete_peer", lambda: n.operator.delete_peer("127.0.0.1:4647"),
        "there is no peer to remove")

works(
    "allocation.stop_allocation",
    lambda: n.allocation.stop_allocation(all_allocs[0]["ID"]),
    lambda r: r["EvalID"] and r["Index"] > 0,
)

# The dev cluster's three simulated nodes, registered by their clients at start.
nodes = works("nodes.get_nodes", n.nodes.get_nodes, lambda r: len(r) == 3)
node_id = nodes[0]["ID"] if nodes else "node-000"
works("node.get_node", lambda: n.node.get_node(node_id), lambda r: r["ID"] == node_id)
works(
    "node.get_allocations",
    lambda: n.node.get_allocations(node_id),
    lambda r: isinstance(r, list) and all(a["NodeID"] == node_id for a in r),
)
works(
    "node.eligible_node",
    lambda: n.node.eligible_node(node_id, ineligible=True),
    lambda r: r["NodeModifyIndex"] > 0,
)
works(
    "node.get_node (ineligible)",
    lambda: n.node.get_node(node_id),
    lambda r: r["SchedulingEligibility"] == "ineligible",
)

# --- what rollout does not serve (yet) ---------------------------------------------------
for name, call in [
    ("node.evaluate_node", lambda: n.node.evaluate_node("00000000-0000-0000-0000-000000000000")),
    ("node.drain_node", lambda: n.node.drain_node("00000000-0000-0000-0000-000000000000")),
    ("node.purge_node", lambda: n.node.purge_node("00000000-0000-0000-0000-000000000000")),
    ("system.initiate_garbage_collection", n.system.initiate_garbage_collection),
    ("system.reconcile_summaries", n.system.reconcile_summaries),
    ("scaling.get_scaling_policies", n.scaling.get_scaling_policies),
    ("search.search", lambda: n.search.search("we", "jobs")),
    ("search.fuzzy_search", lambda: n.search.fuzzy_search("we", "all")),
    ("agent.join_agent", lambda: n.agent.join_agent(["127.0.0.1:4648"])),
    ("agent.force_leave", lambda: n.agent.force_leave("x")),
    ("variables.get_variables", n.variables.get_variables),
    ("client.read_stats", n.client.stats.read_stats),
    ("sentinel.get_policies", n.sentinel.get_policies),
]:
    absent(name, call)

finish()
