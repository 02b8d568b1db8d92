"""The bottom layer of neurorep: shared numerics and plumbing (private).

Every family (``data`` up to ``cli``) may import these modules; they import
no other neurorep package (the import-linter contract in ``pyproject.toml``
holds this). One canonical copy of each piece:

- :mod:`~neurorep._core.errors` -- exceptions, warnings and the argument checks
  (``check_option``, ``check_int``, ``check_real``);
- :mod:`~neurorep._core.rng` -- the one place an ``rng=`` argument becomes a
  ``numpy.random.Generator``;
- :mod:`~neurorep._core.memory` -- the allocation budget;
- :mod:`~neurorep._core.condensed` -- condensed (upper-triangle) RDM vectors;
- :mod:`~neurorep._core.ranks` -- the rank function (average ranks, dense ranks);
- :mod:`~neurorep._core.compare` -- RDM comparison kernels and their registry;
- :mod:`~neurorep._core.similarity` -- CKA and Procrustes kernels;
- :mod:`~neurorep._core.parallel` -- the one parallel engine (dask's threaded
  scheduler, sized by the BLAS thread limit) and the BLAS thread controls.

Nothing here is imported by ``import neurorep`` beyond ``errors``.
"""
