"""The PyTorch worker of Learning Mechanics: trains the built-in model systems on CPU or GPU.

The TypeScript sidecar stays the one writer of run folders; this package receives the resolved
system, its data and its step-0 parameters, trains, and hands parameters back (see
docs/worker-protocol.md). Modules, in reading order: rng, batches, models, optim, tensorfile,
protocol, worker.
"""

__version__ = "0.1.0"

# The logger, for your own PyTorch training (docs/pytorch.md): `run = learning_mechanics.init(...)`.
from .logger import LoggerError, Run, init  # noqa: E402

__all__ = ["init", "Run", "LoggerError", "__version__"]
