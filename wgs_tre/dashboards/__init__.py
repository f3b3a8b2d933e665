"""Dashboards for the people who never open a notebook, served by the hub.

Each dashboard is a notebook in the repository's ``dashboards/`` laid out with ipywidgets over a
module of this package (the logic, tested without a browser), run by Voila as a hub-managed
service behind the hub's sign-in (:mod:`wgs_tre.dashboards.serve`). Who may open one is hub
data: a role with ``access:services!service=<service>`` granted to the group of a TRE role
(:mod:`wgs_tre.dashboards.registry`). The kernel behind a page acts as the person signed in,
and every action in it goes through the same governed functions as the CLI.
"""

from wgs_tre.dashboards.registry import DASHBOARDS, Dashboard, hub_roles, hub_services

__all__ = ["DASHBOARDS", "Dashboard", "hub_roles", "hub_services"]
