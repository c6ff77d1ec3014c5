"""Learning benchmark: Suture against the baselines on the simulated cluster of :mod:`world`.

Run: .venv/bin/python benchmarks/learning/run.py [--seeds 10] [--alerts 1000] [--variants]

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
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass, field
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
    def __init__(self, name: str, seed: int, policy: Policy) -> None:
        self.name = name
        self.recommender = Recommender.in_memory(seed=seed, policy=policy)

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--alerts", type=int, default=1000)
    parser.add_argument("--variants", action="store_true", help="also run Suture's design alternatives")
    args = parser.parse_args(argv)
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
