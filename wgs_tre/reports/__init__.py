"""Expert-panel case reports: classification, building a case's report, export.

The governed side (cases, versions, the review's steps, who may see which identifier) is
:mod:`wgs_tre.governance.cases`; this package builds what it stores and exports what it signs.
"""
