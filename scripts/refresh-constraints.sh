#!/usr/bin/env bash
# Refresh constraints/tested.txt: the exact versions of gandiag's dependencies (runtime and
# test extras) that the suite passed with. Run after `bash scripts/setup.sh && python3 -m
# pytest` passes on a fresh environment; commit the file with the change that needed it.
# CI installs today's releases for the README's test command, then checks this set too.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 - <<'PY' > constraints/tested.txt
import importlib.metadata as md
import re

seen, todo, out = set(), ["gandiag"], []
while todo:
    name = todo.pop()
    key = re.sub(r"[-_.]+", "-", name).lower()
    if key in seen:
        continue
    seen.add(key)
    try:
        dist = md.distribution(name)
    except md.PackageNotFoundError:
        continue
    if key != "gandiag":
        out.append(f"{dist.metadata['Name']}=={dist.version}")
    for req in dist.requires or []:
        if "extra ==" in req and not (key == "gandiag" and "extra == \"test\"" in req):
            continue
        todo.append(re.split(r"[ ;<>=!~\[(]", req, maxsplit=1)[0])
print("# Versions the test suite last passed with; refresh with scripts/refresh-constraints.sh")
print("\n".join(sorted(out, key=str.lower)))
PY
echo "constraints/tested.txt: $(grep -vc '^#' constraints/tested.txt) packages"
