"""FHIR resources into tidy tables, and their governed views."""
