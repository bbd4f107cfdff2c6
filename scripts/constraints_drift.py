"""Print `name: recorded -> installed` for each package whose installed version differs
from a constraints file (used by .ci/run; nothing printed means no drift)."""

import importlib.metadata as md
import sys

with open(sys.argv[1]) as f:
    lines = f.read().splitlines()
for line in lines:
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    name, _, recorded = line.partition("==")
    try:
        installed = md.version(name)
    except md.PackageNotFoundError:
        continue  # platform-specific (CUDA wheels) or not installed here
    if installed != recorded:
        print(f"{name}: {recorded} -> {installed}")
