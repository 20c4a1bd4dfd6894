"""Checks of python/learning_mechanics/analyses, run by test/integration/pythonWatch.test.ts in one
process (`watch_checks.py [NAME...]` prints `ok NAME` or `fail NAME: reason` for each; `--list`
names them; `--write-run DIR` writes a small watched run for the TypeScript reader).
Plain asserts, no pytest needed (CI's Debian Python has torch but not necessarily pytest)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
from typing import Callable, Dict, List

import torch
import torch.nn as nn
import torch.nn.functional as F

import learning_mechanics as lm
from learning_mechanics.analyses import SettingsError, resolve
from learning_mechanics.analyses.cka import representations
from learning_mechanics.analyses.fourier import fourier_record, gini
from learning_mechanics.analyses.kernel import empirical_ntk, factored_ntk, jacobian_ntk, kernel_distance, linear_cka
from learning_mechanics.analyses.readout import find_readout
from learning_mechanics.analyses.writer import AnalysisWriteError, AnalysisWriter, AnalyzerLock, due_steps

CHECKS: Dict[str, Callable[[], None]] = {}


def check(fn: Callable[[], None]) -> Callable[[], None]:
    CHECKS[fn.__name__[len("check_"):]] = fn
    return fn


def kernel_lines(run_dir: str, name: str = "kernel") -> List[dict]:
    import json

    with open(os.path.join(run_dir, "analyses", f"{name}.jsonl"), encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def train_watched(model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int, every: int, loss=F.mse_loss, analyses=None, lr=0.05) -> str:
    """Trains with SGD under run.watch, a checkpoint every `every` steps; returns the run folder."""
    run_dir = os.path.join(tempfile.mkdtemp(prefix="lm-watch-"), "run")
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    run = lm.init("watched", run_dir=run_dir, model=model, optimizer=opt)
    run.watch(model, loss, train=(x, y), analyses=analyses or {"tracin": {"every": 0}})
    for step in range(1, steps + 1):
        l = loss(model(x), y)
        opt.zero_grad()
        l.backward()
        opt.step()
        run.log({"loss": l.item(), "lr": lr}, step=step)
        if step % every == 0:
            run.checkpoint(model, opt, step=step)
    run.finish()
    return run_dir


@check
def check_linear_ntk_does_not_move() -> None:
    """A linear model's Jacobian does not depend on its weights: kernel distance 0 at every
    checkpoint; an MLP trained the same way moves its kernel (the check can tell them apart)."""
    torch.manual_seed(0)
    x, y = torch.randn(40, 5), torch.randn(40, 3)
    linear = train_watched(nn.Linear(5, 3), x, y, 30, 10)
    d = [r["kernelDistance"] for r in kernel_lines(linear)[1:]]
    assert [r["step"] for r in kernel_lines(linear)[1:]] == [0, 10, 20, 30], d
    assert all(abs(v) < 1e-9 for v in d), f"linear model: kernel distances {d}"
    mlp = train_watched(nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 3)), x, y, 30, 10, lr=0.5)
    moved = kernel_lines(mlp)[-1]["kernelDistance"]
    assert moved > 1e-4, f"an MLP's kernel should move, distance {moved}"


@check
def check_ntk_equals_a_loop_of_autograd_grad() -> None:
    """K(x_i, x_j) = Σ_c ∇f_c(x_i)·∇f_c(x_j), exactly as a loop of torch.autograd.grad gives it,
    also when the memory bound forces the chunked path (one direction, pairs of example blocks)."""
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(4, 7), nn.Tanh(), nn.Linear(7, 3))
    x = torch.randn(9, 4)
    params = [p for p in model.parameters()]
    grads = []
    for i in range(9):
        row = []
        for c in range(3):
            g = torch.autograd.grad(model(x[i : i + 1])[0, c], params)
            row.append(torch.cat([t.reshape(-1) for t in g]))
        grads.append(torch.stack(row))
    j = torch.stack(grads).double()  # [n, C, P]
    expected = torch.einsum("icp,jcp->ij", j, j)
    eye = torch.eye(3)
    cases = {
        "factored": lambda: empirical_ntk(model, x, eye),
        "per-example Jacobians": lambda: jacobian_ntk(model, x, eye),
        "chunked Jacobians": lambda: jacobian_ntk(model, x, eye, max_bytes=300),
    }
    for what, kernel in cases.items():
        err = float((kernel() - expected).abs().max() / expected.abs().max())
        assert err < 1e-5, f"{what}: relative error {err}"
    assert factored_ntk(model, x, eye)[1] == [], "an nn.Sequential of nn.Linear is factored whole"


@check
def check_ntk_of_a_transformer_factored_and_not() -> None:
    """A transformer mixes what the factored path covers (nn.Linear on [batch, T, d], nn.Embedding)
    with what it does not (attention's in_proj, LayerNorm, a bare positional parameter, and a tied
    unembedding used outside its module, which the gradient check must catch): the sum equals the
    kernel from per-example Jacobians of everything."""
    torch.manual_seed(6)
    x = torch.randint(0, 11, (12, 3))
    eye = torch.eye(11)
    for tied in (False, True):
        model = TinyTransformer(tied=tied).eval()
        _, rest = factored_ntk(model, x, eye)
        assert "block.linear1.weight" not in rest and "block.self_attn.in_proj_weight" in rest and "pos" in rest, rest
        assert ("tok.weight" in rest) == tied, f"tied={tied}: {rest}"
        expected = jacobian_ntk(model, x, eye)
        err = float((empirical_ntk(model, x, eye) - expected).abs().max() / expected.abs().max())
        assert err < 1e-5, f"tied={tied}: relative error {err}"


@check
def check_ntk_of_a_model_vmap_cannot_batch() -> None:
    """F.one_hot inside forward defeats vmap: the kernel falls back to one example at a time and
    equals the kernel of the same network fed the one-hot vectors."""
    p = 7

    class OneHot(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Sequential(nn.Linear(2 * p, 16), nn.ReLU(), nn.Linear(16, p))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net(F.one_hot(x, p).float().reshape(x.shape[0], -1))

    torch.manual_seed(5)
    m = OneHot()
    x = torch.randint(0, p, (10, 2))
    k = empirical_ntk(m, x, torch.eye(p))
    expected = empirical_ntk(m.net, F.one_hot(x, p).float().reshape(10, -1), torch.eye(p))
    assert float((k - expected).abs().max()) <= 1e-6 * float(expected.abs().max()), "same kernel"


@check
def check_readout_of_a_sequential() -> None:
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    r = find_readout(model, torch.randn(2, 4))
    assert (r.module, r.parameter, r.how) == ("2", "2.weight", "output module"), r


class TinyTransformer(nn.Module):
    """A small decoder-style transformer: token + position embeddings, one encoder layer, a head."""

    def __init__(self, vocab: int = 11, d: int = 16, tied: bool = False) -> None:
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.zeros(3, d))
        self.block = nn.TransformerEncoderLayer(d, nhead=2, dim_feedforward=32, batch_first=True, dropout=0.0)
        self.ln = nn.LayerNorm(d)
        self.tied = tied
        self.lm_head = None if tied else nn.Linear(d, vocab)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.ln(self.block(self.tok(x) + self.pos))[:, -1]
        return h @ self.tok.weight.T if self.tied else self.lm_head(h)


@check
def check_readout_of_a_transformer() -> None:
    x = torch.randint(0, 11, (2, 3))
    r = find_readout(TinyTransformer(), x)
    assert (r.parameter, r.how) == ("lm_head.weight", "output module"), r
    # Tied unembedding: no module returns the output; the output's graph leads to the embedding.
    tied = find_readout(TinyTransformer(tied=True), x)
    assert (tied.parameter, tied.how) == ("tok.weight", "output graph"), tied


class Custom(nn.Module):
    """A readout that is neither last in registration order nor named like one, its output scaled."""

    def __init__(self) -> None:
        super().__init__()
        self.decoder = nn.Linear(8, 2)
        self.encoder = nn.Linear(4, 8)
        self.gate = nn.Parameter(torch.ones(8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * self.decoder(torch.tanh(self.encoder(x)) * self.gate)


@check
def check_readout_of_a_custom_module() -> None:
    r = find_readout(Custom(), torch.randn(2, 4))
    assert (r.module, r.parameter, r.how) == ("decoder", "decoder.weight", "output graph"), r
    from learning_mechanics.analyses.readout import named_readout

    assert named_readout(Custom(), "encoder").parameter == "encoder.weight"
    try:
        named_readout(Custom(), "head")
    except SettingsError as e:
        assert str(e) == "analyses.kernel.readout: the model has no module or parameter named 'head'", str(e)
    else:
        raise AssertionError("a readout name the model lacks must be refused")


@check
def check_cka_representations_by_hooks() -> None:
    """The inputs of weight-owning modules, by the weight they feed; the first layer's input (the
    model's input) left out; CKA 1 against itself, invariant to an orthogonal map."""
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 2))
    x = torch.randn(30, 4)
    reps = representations(model, x, chunk=7)
    assert sorted(reps) == ["2.weight", "4.weight"], sorted(reps)
    h = torch.relu(model[0](x))
    assert torch.allclose(reps["2.weight"], h), "2.weight's representation is layer 0's activation"
    q, _ = torch.linalg.qr(torch.randn(8, 8))
    assert abs(linear_cka(h, h @ q) - 1) < 1e-9
    assert linear_cka(h, torch.randn(30, 8)) < 0.9


@check
def check_fourier_of_a_one_frequency_embedding() -> None:
    """An embedding that is cos/sin of one frequency: Gini 1 − 1/⌊p/2⌋ (the maximum), that frequency first."""
    p = 11
    k = 3
    t = torch.arange(p, dtype=torch.float32)
    table = torch.stack([torch.cos(2 * math.pi * k * t / p), torch.sin(2 * math.pi * k * t / p)], 1)

    class M(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(p, 2)
            with torch.no_grad():
                self.embed.weight.copy_(table)
            self.head = nn.Linear(4, p)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.embed(x).reshape(x.shape[0], -1))

    r = fourier_record(M(), {"embedding": "embed.weight", "p": p, "keyFrequencies": 2}, None, 0)
    assert abs(r["gini"] - (1 - 1 / 5)) < 1e-6, r["gini"]  # float32 weights
    assert max(range(5), key=lambda i: r["frequencyNorms"][i]) == k - 1, r["frequencyNorms"]
    assert abs(gini(torch.ones(5))) < 1e-12


@check
def check_settings_messages_name_the_field() -> None:
    cases = [
        ({"kernel": {"probeSize": 1}}, "analyses.kernel.probeSize: must be an integer in [2, 4096], got 1"),
        ({"kernel": {"probSize": 8}}, "analyses.kernel.probSize: unknown setting (did you mean 'probeSize'?); the settings are every, probeSize, readout, got 8"),
        ({"kernal": {}}, "analyses.kernal: unknown analysis (did you mean 'kernel'?); the analyses are kernel, fourier, tracin, bif, sharpness, llc, conservation"),
        ({"fourier": {"embedding": "embed.weight"}}, "analyses.fourier.p: missing; the Fourier measures need both the embedding parameter's name and the modulus p"),
        ({"tracin": {"query": {"kind": "test"}}}, "analyses.tracin.query.count: missing"),
        ({"bif": {"epsilon": 0}}, "analyses.bif.epsilon: must be a positive number, got 0"),
    ]
    for given, message in cases:
        try:
            resolve(given)
        except SettingsError as e:
            assert str(e) == message, f"{given}: {e}"
        else:
            raise AssertionError(f"{given} must be refused")
    s = resolve({"kernel": {"every": 2}})
    assert s["kernel"] == {"every": 2, "probeSize": 64} and s["tracin"]["projectionDim"] == 64 and s["bif"]["every"] == 0
    assert s["fourier"]["every"] == 0, "Fourier is off without an embedding"
    # TracIn is on by default but needs loss_fn and query: skipped with a message when not asked
    # for, refused when asked for.
    from learning_mechanics.analyses.watch import Watcher

    run_dir0 = os.path.join(tempfile.mkdtemp(prefix="lm-watch-"), "run")
    os.makedirs(os.path.join(run_dir0, "checkpoints"))
    said: List[str] = []
    lin = nn.Linear(3, 2)
    w = Watcher(run_dir0, lin, None, (torch.randn(8, 3), torch.randn(8, 2)), log=said.append)
    assert w.enabled == {"kernel": True, "fourier": False, "tracin": False, "bif": False, "sharpness": False, "llc": False, "conservation": True}, w.enabled
    assert said == ["tracin skipped: run.watch was given no loss_fn=", "sharpness skipped: run.watch was given no loss_fn="], said
    try:
        Watcher(run_dir0, lin, F.mse_loss, (torch.randn(8, 3), torch.randn(8, 2)), analyses={"tracin": {"every": 2}}, log=said.append)
    except SettingsError as e:
        assert str(e) == "analyses.tracin: needs query= in run.watch (the loss, e.g. F.cross_entropy; the query set, e.g. the test split), or switch it off with {'every': 0}", str(e)
    else:
        raise AssertionError("TracIn asked for without a query set must be refused")
    # At watch time: a parameter the model lacks is named.
    run_dir = os.path.join(tempfile.mkdtemp(prefix="lm-watch-"), "run")
    model = nn.Sequential(nn.Embedding(11, 4), nn.Flatten(), nn.Linear(8, 11))
    run = lm.init("bad", run_dir=run_dir, model=model)
    try:
        run.watch(model, F.cross_entropy, train=(torch.randint(0, 11, (20, 2)), torch.randint(0, 11, (20,))), analyses={"fourier": {"embedding": "embed.weight", "p": 11}, "tracin": {"every": 0}})
    except SettingsError as e:
        assert str(e).startswith("analyses.fourier.embedding: the model has no parameter 'embed.weight'"), str(e)
    else:
        raise AssertionError("a missing embedding must be refused at watch time")
    finally:
        run.finish()


@check
def check_writer_continues_truncates_and_archives() -> None:
    run_dir = tempfile.mkdtemp(prefix="lm-writer-")
    header = {"settings": {"every": 1, "probeSize": 8}}
    w = AnalysisWriter(run_dir, "kernel", header)
    assert w.opened == ("new", "")
    w.append({"step": 0, "kernelDistance": float("nan")})
    w.append({"step": 5, "kernelDistance": 0.5})
    path = w.path
    with open(path, "ab") as f:
        f.write(b'{"step": 10, "kernelDis')  # a record cut by a crash
    again = AnalysisWriter(run_dir, "kernel", header)
    assert again.opened == ("continued", "2") and again.has(5) and not again.has(10), again.opened
    with open(path, "rb") as f:
        text = f.read().decode()
    assert text.endswith('"kernelDistance":0.5}\n'), "the cut line is gone"
    assert '"kernelDistance":null' in text, "NaN is written null"
    other = AnalysisWriter(run_dir, "kernel", {"settings": {"every": 1, "probeSize": 16}})
    assert other.opened[0] == "archived" and other.opened[1].startswith("the settings changed; the old file is "), other.opened
    archived = os.listdir(os.path.join(run_dir, "analyses", "archive"))
    assert len(archived) == 1 and archived[0].startswith("kernel-") and archived[0].endswith(".jsonl"), archived
    assert not other.done
    # A file that merely has the name is left alone; a symbolic link is refused.
    with open(os.path.join(run_dir, "analyses", "fourier.jsonl"), "w") as f:
        f.write("my notes\n")
    try:
        AnalysisWriter(run_dir, "fourier", {"settings": {}})
    except AnalysisWriteError as e:
        assert 'is not a "fourier" analysis file of Learning Mechanics (first line: my notes)' in str(e), str(e)
    else:
        raise AssertionError("a foreign file must be left alone")
    os.symlink("/etc/hostname", os.path.join(run_dir, "analyses", "bif.jsonl"))
    try:
        AnalysisWriter(run_dir, "bif", {"settings": {}})
    except AnalysisWriteError as e:
        assert "is a symbolic link" in str(e), str(e)
    else:
        raise AssertionError("a symbolic link must be refused")
    assert due_steps([0, 10, 20, 30, 40], 2, False) == [0, 20, 40]
    assert due_steps([0, 10, 20, 30], 2, False) == [0, 20]
    assert due_steps([0, 10, 20, 30], 2, True) == [0, 20, 30]
    assert due_steps([0, 10], 0) == []


@check
def check_analyzer_lock() -> None:
    run_dir = tempfile.mkdtemp(prefix="lm-lock-")
    os.makedirs(os.path.join(run_dir, "analyses"))
    lock_path = os.path.join(run_dir, "analyses", ".lock")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with open(lock_path, "w") as f:
            f.write(f'{{"pid": {sleeper.pid}, "purpose": "analyze", "since": "2026-01-01T00:00:00.000Z"}}')
        try:
            AnalyzerLock(run_dir)
        except AnalysisWriteError as e:
            assert f"being written by pid {sleeper.pid} (analyze since 2026-01-01T00:00:00.000Z)" in str(e), str(e)
        else:
            raise AssertionError("a live owner's lock must be respected")
    finally:
        sleeper.kill()
        sleeper.wait()
    lock = AnalyzerLock(run_dir)  # the owner is dead now: taken over
    assert lock.recovered is not None and lock.recovered["pid"] == sleeper.pid
    lock.release()
    assert not os.path.exists(lock_path)


@check
def check_watch_and_the_locks() -> None:
    """run.watch writes while the extension's analyzer follows the run (it holds analyses/.lock and
    writes weights.jsonl only); it waits while another Python writer holds analyses/.lock-model and
    catches up at the next checkpoint; `analyze` refuses while the TypeScript analyzer runs."""
    torch.manual_seed(4)
    x, y = torch.randn(20, 3), torch.randn(20, 1)
    model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 1))
    run_dir = os.path.join(tempfile.mkdtemp(prefix="lm-watch-"), "run")
    os.makedirs(os.path.join(run_dir, "analyses"))
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    messages: List[str] = []
    try:
        owner = f'{{"pid": {sleeper.pid}, "purpose": "analyze", "since": "2026-01-01T00:00:00.000Z"}}'
        with open(os.path.join(run_dir, "analyses", ".lock"), "w") as f:
            f.write(owner)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        run = lm.init("locks", run_dir=run_dir, model=model, optimizer=opt)
        watcher = run.watch(model, F.mse_loss, train=(x, y), analyses={"kernel": {"probeSize": 10}, "tracin": {"every": 0}})
        watcher.log = messages.append
        assert [r["step"] for r in kernel_lines(run_dir)[1:]] == [0], "written beside the TypeScript analyzer's lock"
        with open(os.path.join(run_dir, "analyses", ".lock-model"), "w") as f:
            f.write(owner)
        run.checkpoint(model, opt, step=1)
        assert [r["step"] for r in kernel_lines(run_dir)[1:]] == [0], "postponed"
        assert messages and messages[0].startswith("analyses postponed: ") and f"by pid {sleeper.pid}" in messages[0], messages
        os.remove(os.path.join(run_dir, "analyses", ".lock-model"))
        run.checkpoint(model, opt, step=2)
        assert [r["step"] for r in kernel_lines(run_dir)[1:]] == [0, 1, 2], "caught up"
        run.finish()
        from learning_mechanics.analyses.cli import analyze

        try:
            analyze(run_dir, "nowhere:make")
        except AnalysisWriteError as e:
            assert f"being written by pid {sleeper.pid}" in str(e), str(e)
        except Exception as e:  # noqa: BLE001
            raise AssertionError(f"analyze must refuse while the TypeScript analyzer runs, got {type(e).__name__}: {e}")
        else:
            raise AssertionError("analyze must refuse while the TypeScript analyzer runs")
    finally:
        sleeper.kill()
        sleeper.wait()


@check
def check_cadence_and_the_last_checkpoint() -> None:
    """every 2 over checkpoints 0, 1, 2, 3: 0 and 2 while training, 3 added when the run ends."""
    torch.manual_seed(3)
    x, y = torch.randn(20, 3), torch.randn(20, 1)
    run_dir = train_watched(nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 1)), x, y, 3, 1, analyses={"kernel": {"every": 2, "probeSize": 10}, "tracin": {"every": 0}})
    lines = kernel_lines(run_dir)
    assert lines[0]["settings"] == {"every": 2, "probeSize": 10, "outputs": "exact"}, lines[0]
    assert lines[0]["readout"] == {"module": "2", "parameter": "2.weight", "how": "output module"}, lines[0]
    assert [r["step"] for r in lines[1:]] == [0, 2, 3], lines
    assert all(r["probe"] == 10 for r in lines[1:])
    assert not os.path.exists(os.path.join(run_dir, "analyses", ".lock")), "the lock is released"


def write_run(run_dir: str) -> None:
    """A small modular-addition MLP trained 30 steps under run.watch, a checkpoint every 10."""
    torch.manual_seed(0)
    p = 7
    pairs = torch.cartesian_prod(torch.arange(p), torch.arange(p))
    y = (pairs[:, 0] + pairs[:, 1]) % p

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(p, 6)
            self.mlp = nn.Sequential(nn.Linear(12, 24), nn.ReLU(), nn.Linear(24, p))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.mlp(self.embed(x).reshape(x.shape[0], -1))

    model = Net()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    run = lm.init("written", run_dir=run_dir, model=model, optimizer=opt)
    run.watch(model, F.cross_entropy, train=(pairs, y), analyses={"fourier": {"embedding": "embed.weight", "p": p}, "tracin": {"every": 0}, "kernel": {"probeSize": 32}})
    for step in range(1, 31):
        loss = F.cross_entropy(model(pairs), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        run.log({"loss": loss.item()}, step=step)
        if step % 10 == 0:
            run.checkpoint(model, opt, step=step)
    run.finish()


def main(argv: List[str]) -> int:
    if argv == ["--list"]:
        print("\n".join(CHECKS))
        return 0
    if len(argv) == 2 and argv[0] == "--write-run":
        write_run(argv[1])
        return 0
    failed = 0
    for name in argv or list(CHECKS):
        try:
            CHECKS[name]()
        except Exception as e:  # noqa: BLE001 - reported per check, the others still run
            failed += 1
            print(f"fail {name}: {type(e).__name__}: {e}".replace("\n", " | "), flush=True)
        else:
            print(f"ok {name}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
