"""Learning benchmark: Suture against the baselines on the simulated cluster of :mod:`world`.

Run: .venv/bin/python benchmarks/learning/run.py [--seeds 10] [--alerts 1000] [--variants]
     .venv/bin/python benchmarks/learning/run.py --first-seed 21 --seeds 100 --jobs 2 \
         --compare neighbours=40 --compare sharpness=3,floor=0.1


For every seed, 1,000 alerts are drawn once and shown to each policy in the
same order, with the same random numbers deciding outcomes (common random
numbers), so policies differ only by their choices. Reported per policy:

- success over the last 500 alerts: the mean of P(effective | true cause,
  chosen template), the expected value of the noisy outcome it was shown;
- cumulative regret over all alerts against the information ceiling: the sum
  of P(effective | cause, ceiling's choice) - P(effective | cause, choice).

The ceiling knows the simulation's settings (cue probabilities, cause mix and
its drift, success table) but not each alert's cause. ``--variants`` adds
Suture's design alternatives (Thompson sampling, token weighting, pooling).

``--compare KEY=VALUE[,KEY=VALUE...]`` (repeatable) is the paired comparison
for tuning: each candidate is ``Policy(**overrides)`` over the current defaults, not over ``--base`` (``dim=N`` sets the
featurizer's width instead), played on every seed beside the default (or
``--base``) on the same alerts and random numbers. Per seed it takes the
difference in last-500 success as % of that seed's ceiling, and prints the
mean difference +- its standard error over the seeds: a 10-seed mean moves by
about a point between seed sets, the paired difference far less.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from world import Alert, Settings, ceiling_choice, make_alert

from suture.recommend import Policy, Recommender


class Chooser:
    """A policy: pick a template for an alert, then hear the outcome."""

    name = ""

    def choose(self, alert: Alert) -> str:
        raise NotImplementedError

    def learn(self, alert: Alert, template: str, outcome: str) -> None:
        return None


class First(Chooser):
    name = "first matching template"

    def choose(self, alert: Alert) -> str:
        return alert.family.templates[0]


class RandomChoice(Chooser):
    name = "random candidate"

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed + 10_000)

    def choose(self, alert: Alert) -> str:
        return str(self.rng.choice(alert.family.templates))


class SeedFormula(Chooser):
    """Seed 001: confidence = success rate x min(executions / 10, 1), per (alert name, template)."""

    name = "seed formula (rate x min(n/10,1))"

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], list[int]] = {}

    def choose(self, alert: Alert) -> str:
        def confidence(t: str) -> float:
            wins, runs = self.counts.get((alert.family.alertname, t), [0, 0])
            return (wins / max(runs, 1)) * min(runs / 10.0, 1.0)

        # max() keeps the first of equal scores: declared order, as the seed's sort does.
        return max(alert.family.templates, key=confidence)

    def learn(self, alert: Alert, template: str, outcome: str) -> None:
        if outcome == "Unknown":
            return
        counts = self.counts.setdefault((alert.family.alertname, template), [0, 0])
        counts[0] += outcome == "Effective"
        counts[1] += 1


class Ceiling(Chooser):
    name = "information ceiling"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def choose(self, alert: Alert) -> str:
        return ceiling_choice(alert, self.settings)


class Suture(Chooser):
    def __init__(self, name: str, seed: int, policy: Policy, dim: int = 256) -> None:
        self.name = name
        self.recommender = Recommender.in_memory(seed=seed, policy=policy, dim=dim)

    def choose(self, alert: Alert) -> str:
        ranked = self.recommender.rank(alert.payload, alert.family.templates, context=alert.context)
        return ranked[0].template

    def learn(self, alert: Alert, template: str, outcome: str) -> None:
        self.recommender.record_outcome(alert.payload, template, outcome)  # type: ignore[arg-type]


@dataclass
class Result:
    last: list[float] = field(default_factory=list)
    regret: list[float] = field(default_factory=list)
    seconds: float = 0.0


def play(
    chooser: Chooser, alerts: list[Alert], draws: np.ndarray, best: list[str], settings: Settings
) -> tuple[float, float]:
    """(success over the last half, cumulative regret) of one policy on one seed."""
    expected: list[float] = []
    regret = 0.0
    for alert, (u_unknown, u_success), top in zip(alerts, draws, best, strict=True):
        template = chooser.choose(alert)
        p = alert.family.success[alert.cause][template]
        expected.append(p)
        regret += alert.family.success[alert.cause][top] - p
        outcome = "Unknown" if u_unknown < settings.unknown_rate else "Effective" if u_success < p else "Ineffective"
        chooser.learn(alert, template, outcome)
    tail = expected[settings.drift_at :] if settings.drift_at < len(expected) else expected[len(expected) // 2 :]
    return float(np.mean(tail)), regret


def policies(seed: int, settings: Settings, variants: bool) -> list[Chooser]:
    out: list[Chooser] = [
        Suture("suture (default)", seed, Policy()),
        First(),
        RandomChoice(seed),
        SeedFormula(),
    ]
    if variants:
        out += [
            Suture("suture, thompson sampling", seed, Policy(choose="thompson")),
            Suture("suture, uniform token weights", seed, Policy(weights="uniform")),
            Suture("suture, idf weights only", seed, Policy(weights="idf")),
            Suture("suture, relevance by rate shift", seed, Policy(relevance="shift")),
            Suture("suture, extra tokens not counted", seed, Policy(extra_weight=0.0)),
            Suture("suture, no pooling across families", seed, Policy(pool=False)),
            Suture("suture, 8 neighbours", seed, Policy(neighbours=8)),
            Suture("suture, weighted cosine similarity", seed, Policy(similarity="cosine")),
            Suture("suture, sharpness 1", seed, Policy(sharpness=1.0)),
            Suture("suture, Beta(1,1) prior", seed, Policy(prior_strength=2.0)),
            Suture("suture, upper confidence bound", seed, Policy(choose="ucb")),
            Suture("suture, + logistic outcome model", seed, Policy(outcome_model=True)),
            Suture("suture, + outcome model with drift", seed, Policy(outcome_model=True, model_drift=0.02)),
        ]
    return [*out, Ceiling(settings)]


def _value(text: str) -> object:
    """A command-line value as Python: None, true/false, int, float, else the string."""
    lowered = text.lower()
    if lowered in ("none", "null"):
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_overrides(spec: str) -> dict[str, object]:
    """``neighbours=40,sharpness=3`` -> {"neighbours": 40, "sharpness": 3}; keys are Policy fields or ``dim``."""
    known = {f.name for f in fields(Policy)} | {"dim"}
    out: dict[str, object] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        key, sep, value = part.partition("=")
        if not sep or key not in known:
            raise SystemExit(f"--compare/--base: {part!r} is not KEY=VALUE with KEY a Policy field or dim")
        out[key] = _value(value)
    return out


def _suture(name: str, seed: int, overrides: dict[str, object]) -> Suture:
    rest = dict(overrides)
    dim = rest.pop("dim", 256)
    return Suture(name, seed, Policy(**rest), dim=int(dim))  # type: ignore[arg-type, call-overload]


def _paired_seed(job: tuple[int, int, dict[str, object], list[dict[str, object]]]) -> tuple[float, list[float]]:
    """One seed of the paired comparison: (ceiling's last-500 success, [last-500 of base, of each candidate])."""
    seed, n_alerts, base, candidates = job
    settings = Settings(alerts=n_alerts, drift_at=n_alerts // 2)
    rng = np.random.default_rng(seed)
    alerts = [make_alert(rng, i, settings) for i in range(settings.alerts)]
    draws = rng.random((settings.alerts, 2))
    best = [ceiling_choice(a, settings) for a in alerts]
    ceiling, _ = play(Ceiling(settings), alerts, draws, best, settings)
    lasts = [play(_suture("", seed, o), alerts, draws, best, settings)[0] for o in [base, *candidates]]
    return ceiling, lasts


def compare(args: argparse.Namespace) -> int:
    """Paired comparison of candidate policies against a base policy, seed by seed."""
    base = parse_overrides(args.base)
    candidates = [parse_overrides(c) for c in args.compare]
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    jobs = [(seed, args.alerts, base, candidates) for seed in seeds]
    started = time.perf_counter()
    results: list[tuple[float, list[float]]] = []

    def progress(seed: int, result: tuple[float, list[float]]) -> None:
        # One line per seed on stderr: a long comparison can be read before it ends.
        results.append(result)
        ceiling, lasts = result
        diffs = " ".join(f"{100.0 * (last - lasts[0]) / ceiling:+.2f}" for last in lasts[1:])
        print(f"seed {seed}: base {100.0 * lasts[0] / ceiling:.2f}% diffs {diffs}", file=sys.stderr, flush=True)

    if args.jobs > 1:
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            for seed, result in zip(seeds, pool.map(_paired_seed, jobs), strict=True):
                progress(seed, result)
    else:
        for seed, job in zip(seeds, jobs, strict=True):
            progress(seed, _paired_seed(job))
    elapsed = time.perf_counter() - started
    shares = [[100.0 * last / ceiling for last in lasts] for ceiling, lasts in results]
    base_share = [s[0] for s in shares]
    print(
        f"paired comparison, seeds {seeds[0]}..{seeds[-1]} ({len(seeds)}), {args.alerts} alerts each, "
        f"{elapsed:.0f} s wall with {args.jobs} worker(s)"
    )
    print(f"base {args.base or '(defaults)'}: {statistics.mean(base_share):.2f}% of the ceiling")
    header = f"{'candidate':48} {'% of ceiling':>12} {'diff':>7} {'± SE':>6} {'diff/SE':>8} {'wins':>9}"
    print(header)
    print("-" * len(header))
    for j, spec in enumerate(args.compare, start=1):
        diffs = [s[j] - s[0] for s in shares]
        mean = statistics.mean(diffs)
        se = statistics.stdev(diffs) / math.sqrt(len(diffs)) if len(diffs) > 1 else float("nan")
        wins = sum(d > 0 for d in diffs)
        print(
            f"{spec:48} {statistics.mean(s[j] for s in shares):>11.2f}% {mean:>+7.2f} {se:>6.2f} "
            f"{mean / se if se else float('nan'):>+8.1f} {wins:>4}/{len(diffs)}"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--alerts", type=int, default=1000)
    parser.add_argument("--variants", action="store_true", help="also run Suture's design alternatives")
    parser.add_argument(
        "--compare",
        action="append",
        default=[],
        metavar="KEY=VALUE[,...]",
        help="paired comparison of Policy(KEY=VALUE, ...) against --base, per seed (repeatable)",
    )
    parser.add_argument("--base", default="", metavar="KEY=VALUE[,...]", help="the policy compared against")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="worker processes for --compare")
    args = parser.parse_args(argv)
    if args.compare:
        return compare(args)
    settings = Settings(alerts=args.alerts, drift_at=args.alerts // 2)
    results: dict[str, Result] = {}
    names: list[str] = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        rng = np.random.default_rng(seed)
        alerts = [make_alert(rng, i, settings) for i in range(settings.alerts)]
        draws = rng.random((settings.alerts, 2))
        best = [ceiling_choice(a, settings) for a in alerts]
        for chooser in policies(seed, settings, args.variants):
            started = time.perf_counter()
            last, regret = play(chooser, alerts, draws, best, settings)
            res = results.setdefault(chooser.name, Result())
            res.last.append(last)
            res.regret.append(regret)
            res.seconds += time.perf_counter() - started
            if chooser.name not in names:
                names.append(chooser.name)
    ceiling = statistics.mean(results["information ceiling"].last)
    print(
        f"{args.alerts} alerts per seed, seeds {args.first_seed}..{args.first_seed + args.seeds - 1}, "
        f"cause mix drifts at alert {settings.drift_at}, {settings.context_rate:.0%} with live context, "
        f"{settings.unknown_rate:.0%} Unknown outcomes"
    )
    header = (
        f"{'policy':36} {'last-500 success':>17} {'% of ceiling':>13} {'regret mean':>12} "
        f"{'regret min..max':>16} {'s/seed':>7}"
    )
    print(header)
    print("-" * len(header))
    for name in names:
        res = results[name]
        mean = statistics.mean(res.last)
        sd = statistics.pstdev(res.last)
        print(
            f"{name:36} {mean:>10.3f} ±{sd:.3f} {100 * mean / ceiling:>12.1f}% {statistics.mean(res.regret):>12.1f} "
            f"{min(res.regret):>7.1f}..{max(res.regret):<7.1f} {res.seconds / args.seeds:>7.2f}"
        )
    suture = results["suture (default)"]
    baselines = ["first matching template", "random candidate", "seed formula (rate x min(n/10,1))"]
    wins = sum(all(suture.regret[i] < results[b].regret[i] for b in baselines) for i in range(args.seeds))
    share = statistics.mean(suture.last) / ceiling
    print()
    print(
        f"target 1: suture's last-500 success is {100 * share:.1f}% of the ceiling (target >= 85%): "
        f"{'met' if share >= 0.85 else 'NOT met'}"
    )
    print(
        f"target 2: suture's regret is below every baseline on {wins} of {args.seeds} seeds: "
        f"{'met' if wins == args.seeds else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
