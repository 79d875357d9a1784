"""How sure are we: sampled parameter sets (``sampling``), vectorised ensembles
(``ensemble``), robustness of rankings (``robustness``) and global sensitivity
(``sensitivity``)."""
