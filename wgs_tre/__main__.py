"""``python -m wgs_tre`` runs the ``wgs-tre`` command line."""

from wgs_tre.cli import run

run()
