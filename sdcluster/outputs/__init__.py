"""Outputs: atomic netCDF/CSV writing and output folders (``io``), figures
(``plot``, ``plot_ensemble``, ``plot_loops``) and the self-contained HTML report (``report``)."""
