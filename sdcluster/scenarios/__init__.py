"""Scenarios: files a planner writes (questions, references, parameter overrides,
policy schedules), their validation, and running them into one Dataset
(``scenario_files`` → ``scenario``/``schedules`` → ``simulate``; ``golden``
checks re-runs against stored results, ``params`` parses ``--set``)."""
