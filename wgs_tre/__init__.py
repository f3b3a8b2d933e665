"""wgs_tre: governed access to whole-genome and clinical data in a trusted research environment."""

__version__ = "0.1.0"
