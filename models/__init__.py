"""Bundled sdcluster models (Vensim ``.mdl`` and XMILE ``.xmile``), shipped as package data."""
