"""Trains an MLP on modular addition with run.watch, for the figures of docs/pytorch.md.

Run from the repository with the project's logger on the path and a runs folder of your choice:
    PYTHONPATH=python python docs/examples/watch_mlp.py /tmp/lm-runs
It prints the run folder; `lm analyze RUN_DIR` then adds the weight-space analysis that the Lazy vs
rich panel reads. About 10 CPU-seconds on one thread.
"""
import sys

import torch
import torch.nn.functional as F

import learning_mechanics as lm

torch.set_num_threads(1)
torch.manual_seed(0)
p, steps, every = 23, 2000, 100

# All pairs (a, b) with label (a + b) mod p, inputs as two concatenated one-hot vectors; half train.
a, b = torch.cartesian_prod(torch.arange(p), torch.arange(p)).T
x = torch.cat([F.one_hot(a, p), F.one_hot(b, p)], dim=1).float()
y = (a + b) % p
perm = torch.randperm(len(y))
train, test = perm[: len(y) // 2], perm[len(y) // 2 :]
x_tr, y_tr, x_te, y_te = x[train], y[train], x[test], y[test]

model = torch.nn.Sequential(torch.nn.Linear(2 * p, 128), torch.nn.ReLU(), torch.nn.Linear(128, p))
opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1.0)
config = {"p": p, "lr": 3e-3, "weight_decay": 1.0, "hidden": 128, "activation": "relu", "loss": "cross_entropy"}


def evaluate(xs: torch.Tensor, ys: torch.Tensor) -> "tuple[float, float]":
    with torch.no_grad():
        logits = model(xs)
        return F.cross_entropy(logits, ys).item(), (logits.argmax(1) == ys).float().mean().item()


root = sys.argv[1] if len(sys.argv) > 1 else "runs"
with lm.init(name="modadd-mlp", config=config, root=root, model=model, optimizer=opt, total_steps=steps) as run:
    run.watch(model, F.cross_entropy, train=(x_tr, y_tr), query=(x_te[:64], y_te[:64]))
    for step in range(1, steps + 1):
        loss = F.cross_entropy(model(x_tr), y_tr)  # full batch
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % every == 0:
            (train_loss, train_acc), (test_loss, test_acc) = evaluate(x_tr, y_tr), evaluate(x_te, y_te)
            run.log({"train_loss": train_loss, "train_acc": train_acc, "test_loss": test_loss, "test_acc": test_acc}, step=step)
            run.checkpoint(model, opt, step=step)
print(run.dir)
