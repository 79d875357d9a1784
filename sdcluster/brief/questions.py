"""Group a run's scenarios by the question they answer, each policy with its own reference."""
from __future__ import annotations

import dataclasses
import json
from typing import Any, Mapping, Sequence

from ..errors import ScenarioError, suggest

#: Question of scenarios whose files state none.
NO_QUESTION = "Scenarios without a stated question"


@dataclasses.dataclass
class Question:
    """One question of a brief.

    Attributes
    ----------
    text : str
        The question, as the scenario files state it.
    policies : list of str
        Scenarios compared with their reference and ranked, in run order.
    context : list of str
        Scenarios shown but never ranked: context runs and the references
        the policies are compared with.
    references : dict
        ``{scenario: its reference}`` for the policies and the context runs that name one.
    kpi : str or None
        The KPI (compare's label) the question's scenario files name with ``kpi:``; ``None``:
        the brief's headline KPI.
    """

    text: str
    policies: list[str] = dataclasses.field(default_factory=list)
    context: list[str] = dataclasses.field(default_factory=list)
    references: dict[str, str] = dataclasses.field(default_factory=dict)
    kpi: str | None = None

    @property
    def scenarios(self) -> list[str]:
        """Every scenario the question shows: its references and context runs, then its policies."""
        return list(dict.fromkeys([*self.context, *self.policies]))

    def reference_of(self, name: str) -> str | None:
        """The reference of scenario *name* (``None`` for a run without one)."""
        return self.references.get(name)


def definitions_of(ds: Any) -> dict[str, dict]:
    """Scenario definitions stored in a results Dataset's ``scenarios`` attribute (``{}`` if none)."""
    raw = getattr(ds, "attrs", {}).get("scenarios")
    if not raw:
        return {}
    try:
        defs = json.loads(raw) if isinstance(raw, str) else dict(raw)
    except (TypeError, ValueError):
        return {}
    return {str(k): dict(v) for k, v in defs.items() if isinstance(v, Mapping)}


def plan_questions(names: Sequence[str], definitions: Mapping[str, Mapping[str, Any]],
                   baseline: str | None = None) -> list[Question]:
    """Group scenarios by question, each policy with its reference.

    Parameters
    ----------
    names
        The scenarios run, in order.
    definitions
        ``{name: definition}`` with optional ``question``, ``reference`` and ``role``
        (``"policy"`` or ``"context"``), as :meth:`Scenario.to_dict
        <sdcluster.scenarios.scenario.Scenario.to_dict>` writes them.
    baseline
        Explicit override: every scenario except *baseline* and the ``role: context``
        runs is a policy compared with *baseline*.

    Returns
    -------
    list of Question
        In the order in which the questions first appear in *names*.

    Raises
    ------
    ScenarioError
        A reference or the baseline is not among *names* (with the closest name), or no
        scenario names a reference and no baseline is given.
    """
    names = [str(n) for n in names]
    if baseline is not None and baseline not in names:
        raise ScenarioError(f"--baseline {baseline!r} is not one of the scenarios {names}."
                            + suggest(baseline, names))
    questions: dict[str, Question] = {}
    for n in names:
        d = definitions.get(n, {})
        role = d.get("role")
        if baseline is not None:
            ref = None if n == baseline else baseline
            policy = ref is not None and role != "context"
        else:
            ref = d.get("reference")
            policy = ref is not None and role != "context"
        if ref is not None and ref not in names:
            where = d.get("source") or f"scenario {n!r}"
            raise ScenarioError(f"{where}: reference: scenario {n!r} is compared with {ref!r}, which is not among "
                                f"the scenarios run ({', '.join(names)}).{suggest(ref, names)} Run it too, or "
                                "give --baseline NAME to compare everything with one scenario")
        text = " ".join(str(d.get("question") or NO_QUESTION).split())
        q = questions.setdefault(text, Question(text))
        kpi = d.get("kpi")
        if kpi:
            if q.kpi is not None and q.kpi != kpi:
                where = d.get("source") or f"scenario {n!r}"
                raise ScenarioError(f"{where}: kpi: {kpi!r} differs from {q.kpi!r}, which another scenario of the "
                                    f"question {text!r} names; one question is answered by one KPI")
            q.kpi = kpi
        if ref is not None:
            q.references[n] = ref
        (q.policies if policy else q.context).append(n)
    for q in questions.values():  # a policy's reference is shown with its question
        for p in q.policies:
            ref = q.references[p]
            if ref not in q.context and ref not in q.policies:
                q.context.insert(0, ref)
    plan = list(questions.values())
    if not any(q.policies for q in plan):
        raise ScenarioError("no scenario names a reference to be compared with: add 'reference:' to the policies' "
                            "scenario files (see docs/scenarios.md), or give --baseline NAME")
    return plan
