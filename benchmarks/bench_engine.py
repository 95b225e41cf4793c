"""Benchmark the scenario engine against two plain implementations of the same maths.

10,000 draws x 40 quarters x 7 assets with p05/p50/p95 bands of flows, holdings and
permanent price impact, computed three ways from the same parameter draws:

  engine  altflow.scenarios (simulate + threaded partition quantiles + impact)
  (a)     a plain per-draw Python loop, pure-Python percentiles
  (b)     the same maths as one straightforward numpy expression with np.percentile

Prints wall time, throughput (draws x quarters x assets per second) and peak traced
memory (tracemalloc, measured in a separate pass so it does not slow the timed one), and
asserts that the three agree. Run: python benchmarks/bench_engine.py [--draws N]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from altflow.scenarios import MarketInput, PoolInput, check_text, run_scenario  # noqa: E402
from altflow.scenarios import defaults as dft  # noqa: E402
from altflow.scenarios.engine import Sampler, quantiles_many, simulate  # noqa: E402
from altflow.scenarios.impact import MarketVectors, horizon_arrays, horizon_indices  # noqa: E402
from altflow.scenarios.spec import Range  # noqa: E402

ASSETS = ("gold", "silver", "platinum", "palladium", "bitcoin", "ether", "private_equity")
ALLOC = {"gold": 0.01, "silver": 0.003, "platinum": 0.001, "palladium": 0.001,
         "bitcoin": 0.005, "ether": 0.002, "private_equity": 0.01}
RETURN = {"gold": 0.04, "silver": 0.03, "platinum": 0.02, "palladium": 0.02,
          "bitcoin": 0.15, "ether": 0.15, "private_equity": 0.08}
# Synthetic market inputs: the benchmark measures speed, not a market view.
MARKETS = {
    "gold": MarketInput("gold", "precious_metals", 25e12, 150e9, 0.15),
    "silver": MarketInput("silver", "precious_metals", 2e12, 5e9, 0.28),
    "platinum": MarketInput("platinum", "precious_metals", 0.3e12, 1.5e9, 0.25),
    "palladium": MarketInput("palladium", "precious_metals", 0.2e12, 1e9, 0.35),
    "bitcoin": MarketInput("bitcoin", "crypto", 2.2e12, 40e9, 0.50),
    "ether": MarketInput("ether", "crypto", 0.5e12, 20e9, 0.70),
    "private_equity": MarketInput("private_equity", "private_markets", None, None, None,
                                  aum_usd=8e12, annual_fundraising_usd=0.6e12,
                                  dry_powder_usd=1.5e12),
}
POOL = PoolInput("dc_plans", date(2025, 6, 30), 13e12, 0.06, 0.01)


def scenario_text(draws: int) -> str:
    allocs = ", ".join(f"{a}: {{low: {v / 2}, central: {v}, high: {2 * v}}}"
                       for a, v in ALLOC.items())
    rets = ", ".join(f"{a}: {{low: {r - 0.05}, central: {r}, high: {r + 0.05}}}"
                     for a, r in RETURN.items())
    return f"""\
name: bench
pool: {{series: dc_plans, growth_rate: {{low: 0.02, central: 0.06, high: 0.08}}}}
horizon_years: 10
allocations: {{{allocs}}}
returns: {{{rets}}}
adoption:
  curve: logistic
  plan_share: {{low: 0.2, central: 0.4, high: 0.6}}
  uptake: {{low: 0.2, central: 0.5, high: 0.8}}
  midpoint_years: {{low: 2, central: 4, high: 7}}
  steepness: {{low: 0.5, central: 1.0, high: 2.0}}
uncertainty: {{draws: {draws}, seed: 42}}
"""


def draw_inputs(scenario, draws: int, seed: int) -> dict[str, np.ndarray]:
    """The engine's parameter draws, re-drawn here by key so (a) and (b) start equal."""
    s = Sampler(draws, seed)
    ad = scenario.adoption
    out = {
        "growth": s("pool.growth_rate", scenario.pool.growth_rate),
        "plan": s("adoption.plan_share", ad.plan_share),
        "uptake": s("adoption.uptake", ad.uptake),
        "mid": s("adoption.midpoint_years", ad.params["midpoint_years"]),
        "k": s("adoption.steepness", ad.params["steepness"]),
        "alloc": np.stack([s(f"allocations.{a}", scenario.allocations[a]) for a in ASSETS], 1),
        "ret": np.stack([s(f"returns.{a}", scenario.returns[a]) for a in ASSETS], 1),
    }
    mult = []
    for a in ASSETS:
        m = dft.default_multiplier(a)
        mult.append(s(f"impact.multiplier.{a}", Range(*m, dist="log_triangular")) if m
                    else np.full(s.n, np.nan))
    out["mult"] = np.stack(mult, 1)
    return out


CAP = np.array([MARKETS[a].market_cap_usd or np.nan for a in ASSETS], dtype=float)


# --- the engine -----------------------------------------------------------------------------

def engine_core(scenario, draws: int, seed: int) -> tuple[np.ndarray, ...]:
    """Simulate and band flows, holdings and price impact (the numbers (a), (b) compute)."""
    p = simulate(scenario, POOL, MARKETS, draws=draws, seed=seed)
    mv = MarketVectors.build(p, MARKETS)
    h = horizon_arrays(p, mv, horizon_indices(p.flows.shape[1]))
    fb, hb, pb = quantiles_many([p.flows, p.holdings, h.price])
    return fb, hb, pb


# --- (b) one straightforward numpy expression -------------------------------------------------

def numpy_plain(inp: dict[str, np.ndarray], base: float, n_q: int) -> tuple[np.ndarray, ...]:
    t = np.arange(1, n_q + 1) / 4.0
    hz = horizon_indices(n_q)
    x = (inp["plan"][:, None] / (1 + np.exp(-inp["k"][:, None] * (t - inp["mid"][:, None])))
         * base * (1 + inp["growth"][:, None]) ** t)
    hold = x[:, :, None] * (inp["uptake"][:, None] * inp["alloc"])[:, None, :]
    prev = np.concatenate([np.zeros_like(hold[:, :1]), hold[:, :-1]], axis=1)
    flows = hold - prev * ((1 + inp["ret"]) ** 0.25)[:, None, :]
    price = inp["mult"][:, None, :] * np.cumsum(flows, axis=1)[:, hz] / CAP
    q = [5, 50, 95]
    return (np.percentile(flows, q, axis=0), np.percentile(hold, q, axis=0),
            np.percentile(price, q, axis=0))


# --- (a) a plain per-draw Python loop ---------------------------------------------------------

def _pct(sorted_values: list[float], q: float) -> float:
    n = len(sorted_values)
    v = (n - 1) * q
    lo = math.floor(v)
    hi = min(lo + 1, n - 1)
    frac = v - lo
    a, b = sorted_values[lo], sorted_values[hi]
    return a + (b - a) * frac if frac < 0.5 else b - (b - a) * (1 - frac)


def python_loop(inp: dict[str, np.ndarray], base: float, n_q: int) -> tuple[np.ndarray, ...]:
    n_a = len(ASSETS)
    hz = set(horizon_indices(n_q).tolist())
    cols = {k: inp[k].tolist() for k in inp}
    cap = CAP.tolist()
    flows: list[list[float]] = [[] for _ in range(n_q * n_a)]
    holds: list[list[float]] = [[] for _ in range(n_q * n_a)]
    prices: list[list[float]] = [[] for _ in range(len(hz) * n_a)]
    for d in range(len(cols["plan"])):
        plan, k, mid, g = cols["plan"][d], cols["k"][d], cols["mid"][d], cols["growth"][d]
        w = [cols["uptake"][d] * a for a in cols["alloc"][d]]
        gross = [(1 + r) ** 0.25 for r in cols["ret"][d]]
        mult = cols["mult"][d]
        prev = [0.0] * n_a
        cum = [0.0] * n_a
        h_i = 0
        for q in range(n_q):
            t = (q + 1) / 4.0
            x = plan / (1 + math.exp(-k * (t - mid))) * base * (1 + g) ** t
            for a in range(n_a):
                h = x * w[a]
                f = h - prev[a] * gross[a]
                prev[a] = h
                cum[a] += f
                flows[q * n_a + a].append(f)
                holds[q * n_a + a].append(h)
            if q in hz:
                for a in range(n_a):
                    prices[h_i * n_a + a].append(mult[a] * cum[a] / cap[a])
                h_i += 1
    out = []
    for series, shape in ((flows, (n_q, n_a)), (holds, (n_q, n_a)), (prices, (len(hz), n_a))):
        bands = np.empty((3, len(series)))
        for j, values in enumerate(series):
            if any(math.isnan(v) for v in values):
                bands[:, j] = math.nan
                continue
            s = sorted(values)
            bands[:, j] = [_pct(s, q) for q in (0.05, 0.5, 0.95)]
        out.append(bands.reshape((3, *shape)))
    return tuple(out)


# --- harness --------------------------------------------------------------------------------

def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float, object]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times), result


def peak_memory(fn: Callable[[], object]) -> float:
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--draws", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    sc, problems = check_text(scenario_text(args.draws), "bench.yaml")
    assert not problems, problems
    n_q, n_a = sc.quarters, len(ASSETS)
    cells = args.draws * n_q * n_a
    seed = sc.uncertainty.seed

    engine_core(sc, args.draws, seed)  # warm-up: thread pool, page faults
    e_best, e_med, e_res = timed(lambda: engine_core(sc, args.draws, seed), args.repeat)
    f_best, f_med, full = timed(lambda: run_scenario(sc, POOL, MARKETS), args.repeat)

    def plain_b() -> tuple[np.ndarray, ...]:
        return numpy_plain(draw_inputs(sc, args.draws, seed), POOL.value_usd, n_q)

    def plain_a() -> tuple[np.ndarray, ...]:
        return python_loop(draw_inputs(sc, args.draws, seed), POOL.value_usd, n_q)

    b_best, b_med, b_res = timed(plain_b, args.repeat)
    a_best, a_med, a_res = timed(plain_a, 1)

    for name, other in (("(a) python loop", a_res), ("(b) plain numpy", b_res)):
        for label, x, y in zip(("flows", "holdings", "price impact"), e_res, other, strict=True):
            assert x.shape == y.shape, (name, label, x.shape, y.shape)
            assert np.allclose(x, y, rtol=1e-9, atol=1e-6, equal_nan=True), (name, label)
    assert np.isclose(e_res[0][1].sum(), full.flows["flow_usd_p50"].sum(), rtol=1e-9)

    mem = {
        "engine": peak_memory(lambda: engine_core(sc, args.draws, seed)),
        "engine, full run_scenario": peak_memory(lambda: run_scenario(sc, POOL, MARKETS)),
        "(b) plain numpy": peak_memory(plain_b),
        "(a) python loop": peak_memory(plain_a) if args.draws <= 20_000 else float("nan"),
    }
    print(f"{args.draws:,} draws x {n_q} quarters x {n_a} assets = {cells:,} cells; "
          f"bands p05/p50/p95 of flows, holdings and price impact")
    print(f"cpus {os.cpu_count()}, numpy {np.__version__}, "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '-')}")
    head = ("implementation", "best s", "median s", "cells/s", "peak MiB")
    print(f"{head[0]:28s} {head[1]:>8s} {head[2]:>9s} {head[3]:>12s} {head[4]:>9s}")
    rows = (
        ("engine", e_best, e_med),
        ("engine, full run_scenario", f_best, f_med),
        ("(b) plain numpy", b_best, b_med),
        ("(a) python loop", a_best, a_med),
    )
    for name, best, med in rows:
        print(f"{name:28s} {best:8.3f} {med:9.3f} {cells / best:12.3g} {mem[name]:9.1f}")
    print("agreement: engine == (a) == (b) within rtol 1e-9: ok")
    print(f"engine under 0.3 s: {'yes' if e_best < 0.3 else 'NO'} ({e_best:.3f} s); "
          f"full run_scenario {f_best:.3f} s")
    print(f"engine vs (b): {b_best / e_best:.2f}x faster; "
          f"engine vs (a): {a_best / e_best:.1f}x faster (target >= 10x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
