"""The examples the analyses use, from what a training script has: a pair of tensors `(x, y)`, a
`Dataset` of `(x, y)` pairs, or a `DataLoader` over one. Taken in order (a DataLoader's dataset is
read by index, not through its shuffling sampler), so the probe set and the scored examples are the
same at every checkpoint and in `analyze` afterwards (src/trainer/analyzer/examples.ts takes "the
first n" of an already shuffled split the same way).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import torch

from .settings import SettingsError


@dataclass
class Examples:
    """Inputs and targets, first dimension = examples; `indices` into the set they came from."""

    x: torch.Tensor
    y: torch.Tensor
    indices: List[int]

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def to(self, device: torch.device) -> "Examples":
        return Examples(self.x.to(device), self.y.to(device), self.indices)

    def subset(self, rows: Sequence[int]) -> "Examples":
        idx = torch.as_tensor(list(rows), dtype=torch.long, device=self.x.device)
        return Examples(self.x.index_select(0, idx), self.y.index_select(0, idx.to(self.y.device)), [self.indices[r] for r in rows])


class ExampleSource:
    """A set of examples given as tensors, a Dataset or a DataLoader; `take(n)` materializes the first n."""

    def __init__(self, what: str, given: Any) -> None:
        self.what = what
        self._tensors: Optional[Tuple[torch.Tensor, torch.Tensor]] = None
        self._dataset: Any = None
        if isinstance(given, (tuple, list)) and len(given) == 2 and all(isinstance(t, torch.Tensor) for t in given):
            x, y = given
            if x.shape[0] != y.shape[0]:
                raise SettingsError(f"{what}: x has {x.shape[0]} examples but y has {y.shape[0]}")
            self._tensors = (x, y)
            return
        dataset = getattr(given, "dataset", None) if isinstance(given, torch.utils.data.DataLoader) else given
        if dataset is not None and hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__"):
            self._dataset = dataset
            return
        raise SettingsError(f"{what}: expected a pair of tensors (x, y), a Dataset of (x, y) pairs or a DataLoader over one, got {type(given).__name__}")

    def __len__(self) -> int:
        if self._tensors is not None:
            return int(self._tensors[0].shape[0])
        return len(self._dataset)

    def rows(self, indices: Sequence[int]) -> Examples:
        n = len(self)
        bad = [i for i in indices if not 0 <= i < n]
        if bad:
            raise SettingsError(f"{self.what}: indices {', '.join(map(str, bad[:5]))} are out of range (it has {n} examples)")
        if self._tensors is not None:
            x, y = self._tensors
            idx = torch.as_tensor(list(indices), dtype=torch.long)
            return Examples(x.index_select(0, idx.to(x.device)), y.index_select(0, idx.to(y.device)), list(indices))
        xs: List[torch.Tensor] = []
        ys: List[torch.Tensor] = []
        for i in indices:
            item = self._dataset[i]
            if not (isinstance(item, (tuple, list)) and len(item) >= 2):
                raise SettingsError(f"{self.what}: item {i} of the dataset is {type(item).__name__}, not an (x, y) pair")
            xs.append(torch.as_tensor(item[0]))
            ys.append(torch.as_tensor(item[1]))
        return Examples(torch.stack(xs), torch.stack(ys), list(indices))

    def take(self, n: int) -> Examples:
        """The first n examples (all when n is 0 or more than there are)."""
        count = len(self) if n <= 0 else min(n, len(self))
        return self.rows(range(count))


def classes_of(y: torch.Tensor) -> bool:
    """Integer targets of one dimension are class ids (classification); anything else is regression."""
    return y.dim() == 1 and not torch.is_floating_point(y) and not torch.is_complex(y)


def target_matrix(y: torch.Tensor, width: int) -> torch.Tensor:
    """Y for the kernel–target alignment: one-hot class ids over `width` outputs, or the targets as [n, k]."""
    if classes_of(y):
        return torch.nn.functional.one_hot(y.long(), num_classes=max(width, int(y.max().item()) + 1)).double()
    return y.reshape(y.shape[0], -1).double()


def query_rows(query: Mapping[str, Any], train: ExampleSource, test: Optional[ExampleSource], path: str) -> Tuple[str, List[int], str]:
    """The split and rows a query setting picks, and what it is in words (`queryIndices` of examples.ts).
    The query set given to `run.watch(query=...)` plays the test split."""
    kind = query["kind"]
    if kind in ("test", "class") and test is None:
        raise SettingsError(f'{path}: kind "{kind}" asks about the query set, but none was given: pass query=(x, y) to run.watch, or use {{"kind": "indices", "split": "train", "indices": [...]}}')
    if kind == "test":
        assert test is not None
        n = min(int(query["count"]), len(test))
        return "test", list(range(n)), "1 test example" if n == 1 else f"{n} test examples"
    if kind == "class":
        assert test is not None
        ys = test.take(0).y
        if not classes_of(ys):
            raise SettingsError(f'{path}: kind "class" needs class-id targets (a 1-D integer tensor)')
        picked = [i for i, v in enumerate(ys.tolist()) if v == query["label"]][: int(query["count"])]
        if not picked:
            raise SettingsError(f"{path}: no query example has label {query['label']}")
        return "test", picked, f"{len(picked)} test examples of class {query['label']}"
    split = query["split"]
    source = train if split == "train" else test
    if source is None:
        raise SettingsError(f'{path}: split "test" needs a query set: pass query=(x, y) to run.watch')
    idx = [int(i) for i in query["indices"]]
    bad = [i for i in idx if i >= len(source)]
    if bad:
        raise SettingsError(f"{path}: indices {', '.join(map(str, bad[:5]))} are out of range (the {split} set has {len(source)} examples)")
    words = f"{split} example {idx[0]}" if len(idx) == 1 else f"{len(idx)} hand-picked {split} examples"
    return split, idx, words


def example_infos(ex: Examples) -> List[Dict[str, Any]]:
    """The header's `examples`: index, label (classification) and a short text, as examples.ts writes them."""
    classes = classes_of(ex.y)
    out: List[Dict[str, Any]] = []
    for k, index in enumerate(ex.indices):
        x = ex.x[k].reshape(-1)
        shown = ", ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in x[:4].tolist())
        text = f"[{shown}{', …' if x.numel() > 4 else ''}]"
        info: Dict[str, Any] = {"index": int(index)}
        if classes:
            label = int(ex.y[k].item())
            info["label"] = label
            info["text"] = f"{text} → class {label}"
        else:
            yy = ex.y[k].reshape(-1)
            ys = ", ".join(f"{v:.3g}" for v in yy[:4].tolist())
            info["text"] = f"{text} → [{ys}{', …' if yy.numel() > 4 else ''}]"
        out.append(info)
    return out
