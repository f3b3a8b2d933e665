"""Numeric kernels over packed dosages (numba, no xarray): one call handles one block of rows.

Each takes a ``(variants, samples_packed)`` uint8 block (see ``wgs_tre.backends.packed``) and the
true sample count, releases the GIL, and returns plain arrays; ``wgs_tre.genomics`` orchestrates
them over blocks with Dask.
"""
