"""The settings of the analyses, as the TypeScript analyzer has them (src/sdk/spec.ts
`AnalysesSpec`, defaults from `analysesDefaults()` in src/sdk/builders.ts, rules from
src/sdk/validate/analyses.ts): the same names, the same defaults, the same limits, so a header
written here reads like one written there. A few Python-only fields say what the TypeScript side
knows from the experiment file: which parameter is the embedding (`fourier.embedding`), the
modulus (`fourier.p`), and optionally the readout module (`kernel.readout`).

Every mistake is a `SettingsError` naming the field (`analyses.kernel.probeSize: must be an
integer in [2, 4096], got 1`), never a stack from deep inside an analysis.
"""

from __future__ import annotations

import copy
import difflib
import math
from typing import Any, Callable, Dict, List, Mapping, Optional

Settings = Dict[str, Dict[str, Any]]

#: The analyses this package computes (the weight-space one is the TypeScript analyzer's: it reads
#: any checkpoint, so `lm analyze RUN` writes it for every run).
MODEL_ANALYSES = ("kernel", "fourier", "tracin", "bif", "sharpness", "llc", "conservation")


class SettingsError(ValueError):
    """A setting of `analyses={...}` is wrong: the message names the field and the value."""


def defaults() -> Settings:
    """`analysesDefaults()` of src/sdk/builders.ts for the analyses computed here (a fresh copy).
    `fourier` is off unless `embedding` and `p` are given (a Python model says nothing of modular
    arithmetic); BIF is off until asked for, as in TypeScript (about 1,200 gradient steps per checkpoint)."""
    return {
        "kernel": {"every": 1, "probeSize": 64},
        "fourier": {"every": 1, "keyFrequencies": 5},
        "tracin": {"every": 1, "projectionDim": 64, "query": {"kind": "test", "count": 64}, "trainExamples": 0},
        "bif": {
            "every": 0,
            "chains": 4,
            "draws": 100,
            "burnIn": 100,
            "thin": 2,
            "epsilon": 1e-3,
            "gamma": 100,
            "nBeta": 0,
            "batchSize": 256,
            "query": {"kind": "test", "count": 64},
            "trainExamples": 1000,
        },
        # Every 8th checkpoint, as in TypeScript (30–60 gradient passes per checkpoint there; here
        # each product is one double-backward pass, bench/watch_overhead.py prints the cost).
        "sharpness": {"every": 8, "eigenvalues": 2, "iterations": 20, "tolerance": 1e-2, "fdStep": 1e-3},
        # Off like the BIF: chains·(burnIn + draws·thin) gradient steps per checkpoint.
        "llc": {"every": 0, "chains": 4, "draws": 200, "burnIn": 100, "thin": 1, "epsilon": 1e-3, "gamma": 100, "nBeta": 0, "batchSize": 256},
        "conservation": {"every": 1},
    }


Rule = Callable[[Any, str], None]


def _fail(path: str, what: str, value: Any) -> None:
    raise SettingsError(f"{path}: {what}, got {value!r}")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _non_negative_int(v: Any, path: str) -> None:
    if not (_is_int(v) and v >= 0):
        _fail(path, "must be a non-negative integer", v)


def _positive_int(v: Any, path: str) -> None:
    if not (_is_int(v) and v >= 1):
        _fail(path, "must be a positive integer", v)


def _positive_number(v: Any, path: str) -> None:
    if not (_is_number(v) and v > 0):
        _fail(path, "must be a positive number", v)


def _non_negative_number(v: Any, path: str) -> None:
    if not (_is_number(v) and v >= 0):
        _fail(path, "must be a non-negative number", v)


def _probe_size(v: Any, path: str) -> None:
    if not (_is_int(v) and 2 <= v <= 4096):
        _fail(path, "must be an integer in [2, 4096]", v)


def _name(v: Any, path: str) -> None:
    if not (isinstance(v, str) and v):
        _fail(path, "must be a non-empty string (a name from model.named_parameters() / named_modules())", v)


def _layout(v: Any, path: str) -> None:
    if v not in ("auto", "table", "onehot"):
        _fail(path, 'must be "auto", "table" or "onehot"', v)


def _op(v: Any, path: str) -> None:
    if v not in ("add", "sub", "mul", "div"):
        _fail(path, 'must be one of "add", "sub", "mul", "div"', v)


def _int_in(low: int, high: int) -> Rule:
    def rule(v: Any, path: str) -> None:
        if not (_is_int(v) and low <= v <= high):
            _fail(path, f"must be an integer in [{low}, {high}]", v)

    return rule


def _open_unit(v: Any, path: str) -> None:
    if not (_is_number(v) and 0 < v < 1):
        _fail(path, "must be a number in (0, 1)", v)


def _draws(v: Any, path: str) -> None:
    if not (_is_int(v) and v >= 4):
        _fail(path, "must be an integer ≥ 4 (split R-hat needs 4 draws per chain)", v)


def _bool(v: Any, path: str) -> None:
    if not isinstance(v, bool):
        _fail(path, "must be true or false", v)


QUERY_KINDS: Dict[str, Dict[str, Rule]] = {
    "test": {"count": _positive_int},
    "class": {"label": _non_negative_int, "count": _positive_int},
    "indices": {"split": lambda v, p: None if v in ("train", "test") else _fail(p, 'must be "train" or "test"', v), "indices": lambda v, p: _indices(v, p)},
}


def _indices(v: Any, path: str) -> None:
    if not (isinstance(v, list) and v and all(_is_int(i) and i >= 0 for i in v)):
        _fail(path, "must be a non-empty list of example indices", v)


def _query(v: Any, path: str) -> None:
    if not isinstance(v, Mapping):
        _fail(path, 'must be a dict: {"kind": "test", "count": n}, {"kind": "class", "label": c, "count": n} or {"kind": "indices", "split": "train" | "test", "indices": [...]}', v)
    kind = v.get("kind")
    fields = QUERY_KINDS.get(kind) if isinstance(kind, str) else None
    if fields is None:
        _fail(f"{path}.kind", 'must be "test", "class" or "indices"', kind)
        return
    _check_fields(path, v, fields, {"kind"}, required=True)


FIELDS: Dict[str, Dict[str, Rule]] = {
    "kernel": {"every": _non_negative_int, "probeSize": _probe_size, "readout": _name},
    "fourier": {
        "every": _non_negative_int,
        "keyFrequencies": _positive_int,
        "embedding": _name,
        "p": lambda v, path: None if _is_int(v) and v >= 3 else _fail(path, "must be an integer ≥ 3 (the modulus)", v),
        "layout": _layout,
        "op": _op,
        "equalsToken": _bool,
    },
    "tracin": {"every": _non_negative_int, "projectionDim": _positive_int, "query": _query, "trainExamples": _non_negative_int},
    "bif": {
        "every": _non_negative_int,
        "chains": _positive_int,
        "draws": _positive_int,
        "burnIn": _non_negative_int,
        "thin": _positive_int,
        "epsilon": _positive_number,
        "gamma": _non_negative_number,
        "nBeta": _non_negative_number,
        "batchSize": _positive_int,
        "query": _query,
        "trainExamples": _non_negative_int,
    },
    # fdStep is the TypeScript side's finite-difference ε: accepted and written in the header (so
    # the settings read the same), unused here, where Hessian-vector products are exact.
    "sharpness": {"every": _non_negative_int, "eigenvalues": _int_in(1, 10), "iterations": _int_in(2, 200), "tolerance": _open_unit, "fdStep": _open_unit},
    "llc": {
        "every": _non_negative_int,
        "chains": _positive_int,
        "draws": _draws,
        "burnIn": _non_negative_int,
        "thin": _positive_int,
        "epsilon": _positive_number,
        "gamma": _non_negative_number,
        "nBeta": _non_negative_number,
        "batchSize": _positive_int,
    },
    "conservation": {"every": _non_negative_int},
}

#: Analyses the TypeScript side has that need nothing of the model here (accepted, not computed).
TS_ONLY = ("weights", "grokking")


def _suggest(word: str, options: List[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_fields(path: str, given: Mapping[str, Any], fields: Mapping[str, Rule], skip: set, required: bool = False) -> None:
    for key in given:
        if key in skip:
            continue
        if not isinstance(key, str) or key not in fields:
            _fail(f"{path}.{key}", f"unknown setting{_suggest(str(key), list(fields))}; the settings are {', '.join(fields)}", given[key])
    for key, rule in fields.items():
        if key in given:
            rule(given[key], f"{path}.{key}")
        elif required:
            raise SettingsError(f"{path}.{key}: missing")


def resolve(given: Optional[Mapping[str, Any]]) -> Settings:
    """`given` (any subset, at any depth) over the defaults, checked. Raises SettingsError naming the field.

    Fourier is switched off (every 0) unless `embedding` and `p` are both given: there is nothing
    to read without them; giving one but not the other is a mistake and says so."""
    out = defaults()
    if given is None:
        given = {}
    if not isinstance(given, Mapping):
        raise SettingsError(f"analyses: must be a dict such as {{'kernel': {{'every': 2}}}}, got {type(given).__name__}")
    for name, part in given.items():
        if name in TS_ONLY:
            continue
        if name not in FIELDS:
            raise SettingsError(f"analyses.{name}: unknown analysis{_suggest(str(name), list(FIELDS))}; the analyses are {', '.join(FIELDS)}")
        if not isinstance(part, Mapping):
            raise SettingsError(f"analyses.{name}: must be a dict of settings, e.g. {{'every': 2}}, got {part!r}")
        _check_fields(f"analyses.{name}", part, FIELDS[name], set())
        out[name].update(copy.deepcopy(dict(part)))
    f = out["fourier"]
    has_embedding, has_p = "embedding" in f, "p" in f
    if has_embedding != has_p:
        missing = "p" if has_embedding else "embedding"
        raise SettingsError(f"analyses.fourier.{missing}: missing; the Fourier measures need both the embedding parameter's name and the modulus p")
    if not has_embedding:
        explicit = isinstance(given.get("fourier"), Mapping) and "every" in given["fourier"] and given["fourier"]["every"] > 0
        if explicit:
            raise SettingsError("analyses.fourier: needs 'embedding' (the embedding parameter's name, e.g. 'embed.weight') and 'p' (the modulus)")
        f["every"] = 0
    return out


def header_settings(name: str, settings: Settings, extra: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """The settings written in a file's header (compared with the old header to decide whether to
    archive it), as the TypeScript analyzer writes them: the analysis's fields plus what it adds
    (the kernel's `outputs`)."""
    out = copy.deepcopy(settings[name])
    if extra:
        out.update(extra)
    return out
