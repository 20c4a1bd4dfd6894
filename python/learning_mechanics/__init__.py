"""The PyTorch worker of Learning Mechanics: trains the built-in model systems on CPU or GPU.

The TypeScript sidecar stays the one writer of run folders; this package receives the resolved
system, its data and its step-0 parameters, trains, and hands parameters back (see
docs/worker-protocol.md). Modules, in reading order: rng, batches, models, optim, tensorfile,
protocol, worker.
"""

__version__ = "0.1.0"
