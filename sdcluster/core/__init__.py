"""The core engine: load a Vensim/XMILE model safely and run it.

``translate`` (PySD translation, cached by content hash) → ``model_input`` and
``safety`` (what a model file may contain; the allow-list of translations) →
``checked_load`` (run the checked text, never a file or bytecode) → ``model``
(:class:`Model`: catalogue, runs into xarray) on ``compiled`` (generated Numba
kernels) or ``engine`` (PySD's equations, vectorised over runs) with
``fastlookup``.
"""
