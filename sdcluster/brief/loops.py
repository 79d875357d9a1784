"""Each policy's effect as a shift in loop dominance against its own reference.

Loop dominance (:func:`sdcluster.analysis.loops.dominance`) re-evaluates the model's
equations run by run and costs about a second per run of ``cluster_policy``, plus the
loop structure once; so it is computed only for the point-value runs of the policies
and their references, never for the uncertainty samples.
"""
from __future__ import annotations

import logging
from typing import Any, Sequence

from ..errors import SdclusterError
from .questions import Question

log = logging.getLogger(__name__)


def loop_shifts(model: Any, scenarios: Sequence[Any], questions: Sequence[Question], *,
                progress: bool = False) -> dict[str, str]:
    """One sentence per policy: how it shifts loop dominance against its reference.

    Parameters
    ----------
    model
        The :class:`sdcluster.Model` the scenarios run on.
    scenarios
        The :class:`~sdcluster.scenarios.scenario.Scenario` objects run (policies and references among them).
    questions
        The brief's questions (:func:`~sdcluster.brief.questions.plan_questions`).
    progress
        Show a progress bar over the runs.

    Returns
    -------
    dict
        ``{policy: sentence}`` from :func:`sdcluster.analysis.explain.explain_shift`;
        empty (with a logged warning) when the model's loops cannot be scored.
    """
    from tqdm.auto import tqdm

    from ..analysis.explain import explain_shift
    from ..analysis.loops import dominance

    by_name = {s.name: s for s in scenarios}
    pairs = [(p, q.references[p]) for q in questions for p in q.policies]
    needed = list(dict.fromkeys(n for pair in pairs for n in pair))
    runs = {}
    try:
        for name in tqdm(needed, desc="loop dominance", disable=not progress, leave=False):
            runs[name] = dominance(model, scenario=by_name[name])
    except SdclusterError as exc:
        log.warning("loop dominance not explained in the brief: %s", exc)
        return {}
    return {p: explain_shift(runs[p], runs[r], policy=p.replace("_", " "), reference=r.replace("_", " "))
            for p, r in pairs}
