"""Outputs: atomic netCDF/CSV writing and output folders (``io``), figures
(``plot``, ``plot_ensemble``) and the self-contained HTML report (``report``)."""
