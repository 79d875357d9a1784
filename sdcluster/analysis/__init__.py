"""Analysis of results: comparison with references and KPIs (``compare``),
life-cycle stages (``lifecycle``), and feedback loops and their dominance over a
run, Loops that Matter (``graph``, ``linkscores``, ``loops``, ``explain``, ``plot``)."""
