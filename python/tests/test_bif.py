"""SGLD and the BIF on PyTorch models (analyses/bif.py) where the posterior is Gaussian and
everything has a closed form.

The model: w ∈ R^D, output s ⊙ w for every example (s fixed), per-example loss
ℓ_i(w) = ½ Σ_c (s_c w_c − y_ic)². Then L_n(w) = ½ Σ_c s_c² (w_c − μ_c)² + const (μ = ȳ / s), and
the localized tempered posterior exp(−nβ L_n − (γ/2)‖w − w*‖²) is Gaussian with independent
coordinates: precision Λ_c = nβ s_c² + γ, mean m_c = (nβ s_c² μ_c + γ w*_c) / Λ_c.
"""

import math

import torch
from torch import nn

from learning_mechanics.analyses.bif import (
    SgldOptions,
    compute_bif,
    effective_sample_size,
    run_sgld,
    sgld_options,
    split_rhat,
)


class Scaled(nn.Module):
    def __init__(self, s: torch.Tensor, w: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("s", s)
        self.w = nn.Parameter(w.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.s * self.w).expand(x.shape[0], -1)


def half_sq(o: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return 0.5 * ((o - t) ** 2).sum(-1)  # per-example losses


def test_sgld_samples_the_gaussian_posterior_covariance_and_mean() -> None:
    # 100 coordinates with s = 1 (Λ = 100) and 100 with s = 2 (Λ = 280): nβ = 60, γ = 40.
    d = 200
    s = torch.cat([torch.ones(d // 2), 2 * torch.ones(d // 2)])
    g = torch.Generator().manual_seed(0)
    y = torch.randn(10, d, generator=g) * 0.3 + s * 0.5
    w_star = torch.randn(d, generator=g) * 0.2
    model = Scaled(s, w_star)
    nb, gamma, eps = 60.0, 40.0, 3.5e-4
    o = SgldOptions(step_size=eps, n_beta=nb, localization=gamma, chains=4, draws=800, burn_in=500, thin=5,
                    batch_size=10, seed=3)
    draws = []
    run_sgld(model, lambda out, t: half_sq(out, t).mean(), (torch.zeros(10, 1), y), o,
             lambda c, k: draws.append(model.w.detach().clone()))
    assert torch.equal(model.w.detach(), w_star), "the weights are put back to w*"
    w = torch.stack(draws).double()  # [3200, d]
    lam = nb * s.double() ** 2 + gamma
    mu = (y.double().mean(0)) / s.double()
    m = (nb * s.double() ** 2 * mu + gamma * w_star.double()) / lam
    ratio = w.var(0) * lam  # 1 for an exact sampler
    # Expected deviation, both groups: discretization bias 1/(1 − εΛ/4) − 1 = 0.9 % (Λ = 100) and
    # 2.5 % (Λ = 280); Monte Carlo error of the group's mean variance ratio √(2 / N_eff) with
    # N_eff ≈ 100 coordinates × 4 chains × 4,000 steps / τ, τ = (2 − εΛ/2)/(εΛ/2) = 113 (Λ = 100),
    # 40 (Λ = 280): 1.2 % and 0.7 %. 6 % is bias + 4 standard errors; a noise of √(2ε) instead of
    # √ε doubles the variance, a missing nβ multiplies it by Λ/γ.
    for group, bias in ((slice(0, d // 2), 0.009), (slice(d // 2, d), 0.025)):
        mean_ratio = float(ratio[group].mean())
        assert abs(mean_ratio - 1 - bias) < 0.05, (group, mean_ratio)
        assert abs(mean_ratio - 1) < 0.06, (group, mean_ratio)
    # Off-diagonal: independent coordinates, |correlation| ~ 1/√N_eff ≈ 0.1 at most per pair.
    corr = torch.corrcoef(w.T)
    off = corr[~torch.eye(d, dtype=torch.bool)]
    assert float(off.abs().mean()) < 0.1
    # The mean: (w̄ − m)·√Λ is N(0, τ/samples) per coordinate; its rms over coordinates ≈ √(τ/3200) ≈ 0.19.
    z = (w.mean(0) - m) * lam.sqrt()
    assert float(z.pow(2).mean().sqrt()) < 0.35
    # The localization pulls towards w*: the posterior mean is neither μ nor w*.
    assert float((m - mu).abs().mean()) > 0.05


def test_bif_is_minus_the_posterior_covariance_of_the_losses() -> None:
    # For w ~ N(m, Σ) and A = diag(s²): Cov(½(w−a)ᵀA(w−a), ½(w−b)ᵀA(w−b)) = (m−a)ᵀAΣA(m−b) + ½ tr(AΣAΣ),
    # with a = y_i / s and b the query's; φ = one query example's loss.
    d = 3
    s = torch.tensor([1.0, 2.0, 0.5])
    g = torch.Generator().manual_seed(1)
    y = torch.randn(6, d, generator=g)
    yq = torch.randn(1, d, generator=g)
    w_star = torch.randn(d, generator=g) * 0.5
    model = Scaled(s, w_star)
    settings = {"every": 1, "chains": 4, "draws": 1000, "burnIn": 200, "thin": 3, "epsilon": 2e-3, "gamma": 20,
                "nBeta": 30, "batchSize": 256, "trainExamples": 4}
    rec = compute_bif(model, half_sq, (torch.zeros(6, 1), y), (torch.zeros(1, 1), yq), settings, step=7)
    assert torch.equal(model.w.detach(), w_star)
    assert set(rec) == {"step", "values", "stdErr", "traces", "rhat", "ess"}, rec.get("warning")
    assert rec["step"] == 7 and len(rec["values"]) == 4 and len(rec["stdErr"]) == 4
    assert len(rec["traces"]) == 4 and all(len(t["loss"]) == 1000 == len(t["query"]) for t in rec["traces"])
    assert 0.99 < rec["rhat"] < 1.05 and rec["ess"] > 500
    s2 = (s * s).double()
    lam = 30 * s2 + 20
    eps = 2e-3
    var = 1 / (lam * (1 - eps * lam / 4))  # the discretized chain's exact stationary variance
    mu = y.double().mean(0) / s.double()
    m = (30 * s2 * mu + 20 * w_star.double()) / lam
    b = yq[0].double() / s.double()
    for i in range(4):
        a = y[i].double() / s.double()
        cov = float(((m - a) * s2 * var * s2 * (m - b)).sum() + 0.5 * (s2 * var * s2 * var).sum())
        got = rec["values"][i]
        # −Cov within 4 of its reported standard errors (4 chains: a rough SE) or 10 %.
        assert abs(got + cov) < max(4 * rec["stdErr"][i], 0.1 * abs(cov)), (i, got, -cov, rec["stdErr"][i])


def test_diverging_chains_give_a_record_that_says_why() -> None:
    model = Scaled(torch.ones(2), torch.zeros(2))
    settings = {"chains": 2, "draws": 5, "burnIn": 0, "thin": 1, "epsilon": 10.0, "gamma": 100, "nBeta": 1e6,
                "batchSize": 4, "trainExamples": 0}
    rec = compute_bif(model, half_sq, (torch.zeros(4, 1), torch.ones(4, 2)), (torch.zeros(1, 1), torch.ones(1, 2)),
                      settings, step=2)
    assert rec["values"] == [None] * 4 and rec["rhat"] is None and rec["ess"] is None
    assert rec["warning"].startswith("All 2 SGLD chains diverged; no BIF. SGLD chain 0 diverged at step ")
    assert "try ε ≤ 1" in rec["warning"]
    assert torch.equal(model.w.detach(), torch.zeros(2))


def test_settings_mistakes_name_the_setting() -> None:
    base = {"chains": 4, "draws": 100, "burnIn": 100, "thin": 2, "epsilon": 1e-3, "gamma": 100, "nBeta": 0,
            "batchSize": 256}
    assert sgld_options(100, base, 0).n_beta == 100 / math.log(100)
    assert sgld_options(100, base, 0).batch_size == 100
    for key, value, message in (("epsilon", 0, "bif.epsilon must be a number > 0, got 0"),
                                ("chains", 1.5, "bif.chains must be an integer ≥ 1, got 1.5"),
                                ("thin", "2", "bif.thin must be an integer ≥ 1, got '2'")):
        try:
            sgld_options(100, {**base, key: value}, 0)
        except ValueError as e:
            assert str(e) == message
        else:
            raise AssertionError(f"{key}={value!r} accepted")


def test_diagnostics_match_the_typescript_values() -> None:
    # Values printed by src/trainer/methods/mcmcDiagnostics.ts for these chains.
    chains = [[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [2.0, 1.0, 2.0, 1.0, 2.0, 1.0]]
    assert math.isclose(split_rhat(chains), RHAT_TS, rel_tol=1e-12)
    assert math.isclose(effective_sample_size(chains), ESS_TS, rel_tol=1e-12)
    assert math.isnan(split_rhat([[1.0, 2.0, 3.0]]))
    assert split_rhat([[1.0] * 4, [1.0] * 4]) == 1.0


RHAT_TS = 2.223610677354389
ESS_TS = 4.967441860465116
