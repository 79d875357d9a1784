"""Analysis of results: comparison with references and KPIs (``compare``),
life-cycle stages (``lifecycle``), and feedback loops and their dominance over a
run, Loops that Matter (``graph``, ``linkscores``, ``loops``, ``explain``); their figures are
drawn by :mod:`sdcluster.outputs.plot_loops`."""
