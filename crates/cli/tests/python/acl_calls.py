"""Every ACL call of python-nomad 2.1.0 against `rollout agent --dev --acl-enabled`.

Run by .ci/run with the pinned client:

    python3 crates/cli/tests/python/acl_calls.py 127.0.0.1 4749

Bootstraps the agent, then writes, reads, updates and deletes a policy and a client
token through python-nomad, and checks that the token gets what its policy grants and
nothing more (a job list in its namespace, 403 on ACL writes). Prints a table (call,
status, detail) and exits 1 if any call behaves otherwise.
"""
import sys

import nomad

from calls import denied, finish, works as call

host, port = sys.argv[1], int(sys.argv[2])
anonymous = nomad.Nomad(host=host, port=port, timeout=10)

denied("jobs.get_jobs (anonymous)", anonymous.jobs.get_jobs)
boot = call("acl.generate_bootstrap", anonymous.acl.generate_bootstrap, lambda r: r["Type"] == "management")
if boot is None:
    sys.exit("bootstrap failed")
m = nomad.Nomad(host=host, port=port, timeout=10, token=boot["SecretID"])
call("acl.get_self_token", m.acl.get_self_token, lambda r: r["AccessorID"] == boot["AccessorID"])
policy = {
    "Name": "readonly",
    "Description": "read jobs in default",
    "Rules": 'namespace "default" { policy = "read" }',
}
call("acl.create_policy", lambda: m.acl.create_policy("readonly", policy), lambda r: r.ok)
call("acl.get_policy", lambda: m.acl.get_policy("readonly"), lambda r: r["Rules"] == policy["Rules"])
policy["Description"] = "read-only"
call("acl.update_policy", lambda: m.acl.update_policy("readonly", policy), lambda r: r.ok)
call("acl.get_policies", m.acl.get_policies, lambda r: [p["Name"] for p in r] == ["readonly"])
token = call(
    "acl.create_token",
    lambda: m.acl.create_token({"Name": "ci", "Type": "client", "Policies": ["readonly"]}),
    lambda r: r["Policies"] == ["readonly"] and r["SecretID"],
)
accessor = token["AccessorID"] if token else ""
call("acl.get_token", lambda: m.acl.get_token(accessor), lambda r: r["Name"] == "ci")
call(
    "acl.update_token",
    lambda: m.acl.update_token(accessor, {"AccessorID": accessor, "Name": "ci-2", "Type": "client", "Policies": ["readonly"]}),
    lambda r: r["Name"] == "ci-2",
)
call("acl.get_tokens", m.acl.get_tokens, lambda r: {t["Name"] for t in r} >= {"ci-2"})
if token:
    reader = nomad.Nomad(host=host, port=port, timeout=10, token=token["SecretID"])
    call("jobs.get_jobs (readonly token)", reader.jobs.get_jobs, lambda r: isinstance(r, list))
    denied("acl.create_policy (readonly token)", lambda: reader.acl.create_policy("x", {"Name": "x", "Rules": ""}))
    denied("acl.get_tokens (readonly token)", reader.acl.get_tokens)
call("acl.delete_token", lambda: m.acl.delete_token(accessor), lambda r: r is True)
call("acl.delete_policy", lambda: m.acl.delete_policy("readonly"), lambda r: r is True)
call("acl.get_policies (after delete)", m.acl.get_policies, lambda r: r == [])

finish()
