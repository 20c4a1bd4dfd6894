"""Runs a command as the extension runs a `.py` experiment (src/extension/pythonRun.ts `scriptEnv`):
LM_PROTOCOL=1 and a pipe on LM_PROTOCOL_FD that is read to the end, so the logger pays for its
protocol events as it does under ▶ Run. Prints how many events arrived.

    .venv/bin/python bench/with_protocol.py .venv/bin/python bench/logger_overhead.py
"""

from __future__ import annotations

import os
import subprocess
import sys


def main(argv: list) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    r, w = os.pipe()
    package = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python")
    env = dict(os.environ, LM_PROTOCOL="1", LM_PROTOCOL_FD=str(w), PYTHONPATH=package)
    child = subprocess.Popen(argv, env=env, pass_fds=(w,))
    os.close(w)
    events = 0
    with os.fdopen(r, "rb") as pipe:
        for _ in pipe:
            events += 1
    code = child.wait()
    print(f"protocol events: {events}")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
