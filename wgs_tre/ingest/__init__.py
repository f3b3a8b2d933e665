"""Upstream pipeline outputs (VCF, FHIR) into registered, immutable dataset versions.

Every ingest writes into a hidden staging directory beside its destination, registers the
version in one transaction that also moves the files into place, and removes the staging
directory on any failure: readers only ever open registered versions, so an interrupted ingest
(even ``kill -9``) leaves nothing they can see.
"""
