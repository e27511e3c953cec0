"""python-nomad's event stream client against `rollout agent --dev`.

Run by .ci/run with the pinned client (python-nomad 2.1.0):

    python3 crates/cli/tests/python/event_stream.py 127.0.0.1 4747

Registers a job with python-nomad, follows `topic=Deployment:web` with
`n.event.stream.get_stream` until the simulated cluster completes the deployment, and
checks every frame the client hands over: Nomad's frame and event keys, the topic and
filter key asked for, and one index per frame, increasing.
"""
import queue
import sys

import nomad

host, port = sys.argv[1], int(sys.argv[2])
n = nomad.Nomad(host=host, port=port, timeout=10)

job = {
    "Job": {
        "ID": "web",
        "Name": "web",
        "TaskGroups": [
            {
                "Name": "web",
                "Count": 2,
                "Update": {"MaxParallel": 1, "MinHealthyTime": 0},
                "Tasks": [
                    {"Name": "app", "Driver": "docker", "Config": {"image": "app:1"}}
                ],
            }
        ],
    }
}
registered = n.job.register_job("web", job)
assert registered["EvalID"], registered

stream, stop, events = n.event.stream.get_stream(
    index=0, topic=["Deployment:web"], timeout=60
)
stream.daemon = True
stream.start()

last_index = 0
status = None
while status != "successful":
    try:
        frame = events.get(timeout=60)
    except queue.Empty:
        sys.exit(f"no deployment event within 60 s (last status {status!r})")
    assert sorted(frame) == ["Events", "Index"], frame
    assert frame["Index"] > last_index, (frame["Index"], last_index)
    last_index = frame["Index"]
    for e in frame["Events"]:
        # Nomad's keys, plus rollout's own `Actor` (who made the write, R13).
        assert sorted(e) == [
            "Actor", "FilterKeys", "Index", "Key", "Namespace", "Payload", "Topic", "Type",
        ], e
        assert e["Actor"]["Kind"] in ("operator", "scheduler", "client", "watcher", "gc"), e
        assert e["Topic"] == "Deployment", e
        assert e["FilterKeys"] == ["web"], e
        assert e["Index"] == frame["Index"], e
        d = e["Payload"]["Deployment"]
        assert d["ID"] == e["Key"] and d["JobID"] == "web", e
        status = d["Status"]
        print(f"{e['Index']} {e['Type']} {status}")
stop.set()
print("python-nomad event stream: ok")
