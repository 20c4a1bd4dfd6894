"""`python -m learning_mechanics import FILE.pt --run-dir DIR [--step N]`: PyTorch state dicts
(`.pt`, `.pth`) into a run folder's checkpoints, so the extension can open weights trained
elsewhere. Files are read with `torch.load(weights_only=True)`: a file holding anything but
tensors is refused, and no code in it runs.

`python -m learning_mechanics analyze RUN --model module:factory`: the analyses that need the
model (kernel, CKA, Fourier, TracIn, BIF, sharpness, conservation, LLC) from the run's checkpoints (analyses/cli.py).
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from .importer import ImportRefused, import_state_dict


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m learning_mechanics")
    commands = parser.add_subparsers(dest="command", required=True)
    imp = commands.add_parser("import", help="convert a .pt/.pth state dict into a run's checkpoint")
    imp.add_argument("file", help="a .pt or .pth file holding a state dict (or {'state_dict': ...} / {'model': ...})")
    imp.add_argument("--run-dir", required=True, help="the run folder (created when it does not exist)")
    imp.add_argument("--step", type=int, default=0, help="the step the weights are from (default 0)")
    from .analyses import cli as analyze_cli

    analyze_cli.add_parser(commands)
    args = parser.parse_args(argv)
    if args.command == "analyze":
        return analyze_cli.run(args)
    try:
        path = import_state_dict(args.file, args.run_dir, args.step)
    except ImportRefused as e:
        # The user's file or arguments: the message says what, no traceback.
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
