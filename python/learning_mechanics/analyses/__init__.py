"""The analyses of the TypeScript analyzer for a researcher's own PyTorch model (issue 12):
`run.watch(model, loss_fn, train=..., probe=..., query=..., analyses={...})` while training, and
`python -m learning_mechanics analyze RUN --model module:factory` afterwards, both writing the
run's `analyses/*.jsonl` as docs/analysis-format.md describes (docs/pytorch.md, "Analyses of your model").

Modules, in reading order: settings (names, defaults, checks), examples (the probe, scored and
query sets), writer (the files and the lock), readout, kernel (empirical NTK, kernel distance, KTA,
linear CKA), cka (representations by forward hooks), fourier, influence (calls tracin.py / bif.py,
whose per-example gradients are in pergrad.py), sharpness (with lanczos and optim_state),
conservation, llc (the BIF's sampler), watch (the loop), cli (`analyze`).
"""

from .settings import SettingsError, defaults, resolve
from .watch import Watcher

__all__ = ["Watcher", "SettingsError", "defaults", "resolve"]
