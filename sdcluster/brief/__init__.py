"""The planner's decision brief: questions and their references, findings, uncertainty, figures.

A scenario file states the ``question`` it helps answer and each policy names the
``reference`` run it is compared with (:mod:`sdcluster.scenarios.scenario`).
:func:`~sdcluster.brief.questions.plan_questions` groups a run's scenarios by
question; :mod:`~sdcluster.brief.findings` turns the numbers into plain-language
findings; :mod:`~sdcluster.brief.uncertainty` runs the same scenarios under
uncertain parameters (common random numbers) for intervals, P(policy beats its
reference) and rank stability; :mod:`~sdcluster.brief.figures` draws the
cost-outcome chart and sorted KPI bars; :mod:`sdcluster.outputs.report` assembles the HTML.
"""
from .questions import Question, plan_questions

__all__ = ["Question", "plan_questions"]
