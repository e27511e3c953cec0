"""What every python-nomad check script shares: each call's expected behaviour, recorded
as a row (call, status, detail), and the table printed at the end.

- `works`: the call maps to a rollout feature and must succeed (its answer is checked);
- `refused`: a feature rollout deliberately does not have: a 400 whose text says why;
- `denied`: an ACL refusal: a 403 `Permission denied`;
- `absent`: an endpoint rollout does not serve: a 404 naming the route.
"""
import sys

import nomad.api.exceptions as ex

rows = []
failed = []


def text_of(e):
    response = getattr(e, "nomad_resp", None)
    return getattr(response, "text", str(e)) if response is not None else str(e)


def status_of(e):
    response = getattr(e, "nomad_resp", None)
    return getattr(response, "status_code", None)


def fail(name, detail):
    rows.append((name, "FAILED", detail))
    failed.append(name)


def works(name, call, check=lambda r: True):
    try:
        result = call()
    except Exception as e:  # noqa: BLE001 - reported, not hidden
        fail(name, f"{type(e).__name__}: {status_of(e)} {text_of(e)[:80]}")
        return None
    if not check(result):
        fail(name, f"unexpected answer: {str(result)[:80]}")
        return None
    rows.append((name, "works", ""))
    return result


def _answered(name, call, status, accept, label, unexpected):
    try:
        call()
    except ex.BaseNomadException as e:
        text = text_of(e)
        if status_of(e) == status and accept(text):
            rows.append((name, f"{label} ({status})", text[:80]))
            return
        fail(name, f"{status_of(e)} {text[:80]}")
        return
    fail(name, unexpected)


def refused(name, call, needle):
    _answered(name, call, 400, lambda t: needle in t, "refused", "accepted")


def denied(name, call):
    _answered(name, call, 403, lambda t: t == "Permission denied", "denied", "allowed, expected 403")


def absent(name, call):
    _answered(
        name,
        call,
        404,
        lambda t: t.startswith("rollout does not implement "),
        "absent",
        "answered as if implemented",
    )


def finish():
    """Prints the table and the counts; exits 1 if any call did not behave."""
    width = max(len(r[0]) for r in rows)
    print(f"| {'call'.ljust(width)} | status | detail |")
    print(f"|{'-' * (width + 2)}|---|---|")
    for name, status, detail in rows:
        print(f"| {name.ljust(width)} | {status} | {detail} |")
    counts = {}
    for _, status, _ in rows:
        counts[status] = counts.get(status, 0) + 1
    print(", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    if failed:
        sys.exit(f"{len(failed)} call(s) did not behave: {', '.join(failed)}")
