#!/usr/bin/env python3
"""Helpers for tests/container/*.sh: read the CI examples and the JSON reports.

Kept in Python because both jobs need real YAML/JSON parsing, which is fragile in shell.

  ci.py job-script YAML JOB         the job's shell script (before_script + script, extends resolved)
  ci.py job-var YAML JOB VAR        one variable of the job (extends resolved), empty if unset
  ci.py job-vars YAML JOB           all the job's variables, NAME=VALUE lines (extends resolved)
  ci.py job-parallel YAML JOB       the job's `parallel: N`
  ci.py job-key YAML JOB KEY.KEY..  one value of the job (extends resolved), e.g. image.docker.user
  ci.py k8s YAML FIELD              completions | command | env (NAME=VALUE lines) | images |
                                    security (KEY=VALUE lines: the pod's securityContext, then
                                    the container's, which wins) | mounts (PATH KIND [ro] lines)
  ci.py statuses REPORT.json        "check-id status" lines
  ci.py fingerprint REPORT.json     verdicts and every finding, normalised for comparison
  ci.py entries REPORT.json         the number of entries walked in each layer, bottom first
  ci.py finding REPORT.json CHECK PATH   "layer visible violation" of one finding
"""
import json
import sys

import yaml


def fail(msg):
    print(f"ci.py: {msg}", file=sys.stderr)
    sys.exit(2)


def merge(base, over):
    # GitLab's `extends`: hashes merge deeply, everything else is replaced.
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


def job(path, name):
    doc = yaml.safe_load(open(path))
    if name not in doc:
        fail(f"{path}: no job {name!r}")

    def resolve(n, seen=()):
        if n in seen:
            fail(f"extends loop at {n}")
        j = doc[n]
        ext = j.get("extends", [])
        ext = [ext] if isinstance(ext, str) else ext
        out = {}
        for e in ext:
            out = merge(out, resolve(e, seen + (n,)))
        return merge(out, {k: v for k, v in j.items() if k != "extends"})

    return resolve(name)


def lines(v):
    return [v] if isinstance(v, str) else list(v or [])


def k8s(path, field):
    docs = [d for d in yaml.safe_load_all(open(path)) if d]
    jobs = [d for d in docs if d.get("kind") == "Job"]
    cms = [d for d in docs if d.get("kind") == "ConfigMap"]
    if len(jobs) != 1:
        fail(f"{path}: expected one Job")
    spec = jobs[0]["spec"]
    ctr = spec["template"]["spec"]["containers"][0]
    if field == "completions":
        return str(spec["completions"])
    if field == "mode":
        return spec.get("completionMode", "NonIndexed")
    if field == "command":
        cmd = ctr["command"]
        if cmd[:2] != ["sh", "-c"] or len(cmd) != 3:
            fail("the container command must be sh -c SCRIPT")
        return cmd[2]
    if field == "env":
        return "\n".join(f"{e['name']}={e['value']}" for e in ctr.get("env", []) if "value" in e)
    if field == "images":
        return cms[0]["data"]["images.txt"]
    if field == "security":
        out = {}
        for ctx in (spec["template"]["spec"].get("securityContext") or {}, ctr.get("securityContext") or {}):
            for k, v in flat(ctx).items():
                out[k] = v
        return "\n".join(f"{k}={v}" for k, v in out.items())
    if field == "mounts":
        kinds = {}
        for v in spec["template"]["spec"].get("volumes", []):
            kinds[v["name"]] = next(k for k in v if k != "name")
        return "\n".join(
            f"{m['mountPath']} {kinds[m['name']]}" + (" ro" if m.get("readOnly") else "")
            for m in ctr.get("volumeMounts", [])
        )
    fail(f"unknown field {field}")


def flat(d, prefix=""):
    # {"capabilities": {"drop": ["ALL"]}} -> {"capabilities.drop": "ALL"}; booleans as YAML spells them.
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flat(v, f"{prefix}{k}."))
        elif isinstance(v, list):
            out[prefix + k] = ",".join(str(x) for x in v)
        elif isinstance(v, bool):
            out[prefix + k] = str(v).lower()
        else:
            out[prefix + k] = str(v)
    return out


def report(path):
    r = json.load(open(path))
    if not isinstance(r.get("checks"), list):
        fail(f"{path}: not an image report")
    return r


def main(argv):
    if len(argv) < 2:
        fail(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "job-script":
        j = job(*args)
        print("\n".join(lines(j.get("before_script")) + lines(j.get("script"))))
    elif cmd == "job-var":
        print((job(args[0], args[1]).get("variables") or {}).get(args[2], ""))
    elif cmd == "job-vars":
        for k, v in (job(args[0], args[1]).get("variables") or {}).items():
            print(f"{k}={v}")
    elif cmd == "job-parallel":
        p = job(*args).get("parallel")
        if not isinstance(p, int):
            fail(f"{args[1]}: parallel is not a number")
        print(p)
    elif cmd == "job-key":
        v = job(args[0], args[1])
        for k in args[2].split("."):
            v = v.get(k) if isinstance(v, dict) else None
        print("" if v is None else (str(v).lower() if isinstance(v, bool) else v))
    elif cmd == "k8s":
        print(k8s(*args))
    elif cmd == "statuses":
        for c in report(args[0])["checks"]:
            print(c["id"], c["status"])
    elif cmd == "fingerprint":
        r = report(args[0])
        print("exit", r["summary"]["exit_code"], "layers", len(r["layers"]))
        for c in r["checks"]:
            print(c["id"], c["status"], c["description"])
            for f in sorted(c["findings"], key=lambda f: (f["path"], f["layer"])):
                print("  ", f["path"], f["layer"], f["kind"], f["mode"], f["uid"], f["gid"],
                      f["visible"], f["violation"], f.get("link_target"))
    elif cmd == "entries":
        print(" ".join(str(l["entries"]) for l in report(args[0])["layers"]))
    elif cmd == "finding":
        r = report(args[0])
        for c in r["checks"]:
            if c["id"] == args[1]:
                for f in c["findings"]:
                    if f["path"] == args[2]:
                        print(f["layer"], str(f["visible"]).lower(), str(f["violation"]).lower())
                        return
        fail(f"{args[0]}: no finding {args[2]} in {args[1]}")
    else:
        fail(f"unknown command {cmd}")


if __name__ == "__main__":
    main(sys.argv)
