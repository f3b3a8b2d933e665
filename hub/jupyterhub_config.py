"""JupyterHub configuration of the WGS TRE: per-project named servers, isolated by the OS.

Run as root (sessions get network namespaces and unprivileged accounts):

    WGS_TRE_DATA_DIR=/var/lib/wgs-tre jupyterhub -f hub/jupyterhub_config.py

Every knob below can be overridden by environment variables (for the demo and the tests) or in a
second config file that loads this one (``load_subconfig``). See the README's production notes
for TLS, OIDC sign-in and the Kubernetes equivalent.
"""

# ruff: noqa: F821 - `c` and `get_config` are provided by JupyterHub when it loads this file
from __future__ import annotations

import os
import sys
from pathlib import Path

from wgs_tre.config import load_settings
from wgs_tre.dashboards import hub_roles, hub_services
from wgs_tre.hub import DATA_SERVICE, netns, pages, refusals
from wgs_tre.hub.end_with_hub import ending_with_this_process
from wgs_tre.hub.isolation import sweep
from wgs_tre.policy import load_policies

c = get_config()  # type: ignore[name-defined]
REPO = Path(__file__).resolve().parent.parent
STATE = Path(os.environ.get("WGS_TRE_HUB_STATE", "/var/lib/wgs-tre/hub"))
STATE.mkdir(parents=True, exist_ok=True)
STATE.chmod(0o700)  # sessions reach their own files by bind mounts, never through this path
# The hub's database holds password hashes and TOTP secrets: the hub's account reads it, no one
# else (JupyterHub would create it world-readable).
HUB_DB = STATE / "jupyterhub.sqlite"
HUB_DB.touch(mode=0o600)
HUB_DB.chmod(0o600)
BIN = Path(sys.executable).parent

# Addresses: the public proxy on loopback; the hub API on the address every session namespace
# routes to (and nothing else); the proxy's REST API on loopback.
c.JupyterHub.bind_url = os.environ.get("WGS_TRE_HUB_URL", "http://127.0.0.1:8000")
api_port = int(os.environ.get("WGS_TRE_HUB_API_PORT", "8081"))
c.JupyterHub.hub_bind_url = f"http://{netns.HUB_ADDRESS}:{api_port}"
c.ConfigurableHTTPProxy.api_url = os.environ.get("WGS_TRE_PROXY_API_URL", "http://127.0.0.1:8001")
c.ConfigurableHTTPProxy.command = [str(REPO / "node_modules" / ".bin" / "configurable-http-proxy")]
c.ConfigurableHTTPProxy.pid_file = str(STATE / "proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{HUB_DB}"
c.JupyterHub.cookie_secret_file = str(STATE / "cookie_secret")

# The front door: people land on their own TRE page (wgs_tre.hub.pages: per role, English or
# Japanese) and open sessions from it; the hub never starts the unnamed default server, and a
# refused session says why (hub/templates). JupyterHub calls extra_handlers deprecated but has
# no other way for a page to share the hub's sign-in and templates.
c.JupyterHub.template_paths = [str(REPO / "hub" / "templates")]
c.JupyterHub.extra_handlers = pages.HANDLERS
# error.html explains a dashboard refused to a role (JupyterHub calls a callable value with the
# user and puts what it returns in the templates: here, the function itself)
c.JupyterHub.template_vars = {"service_refusal": lambda user: refusals.service_refusal}
c.JupyterHub.default_url = lambda handler: f"{handler.hub.base_url}tre"
c.JupyterHub.redirect_to_server = False

# One named server per (user, project); the server name is the project slug.
c.JupyterHub.allow_named_servers = True
c.JupyterHub.named_server_limit_per_user = 50
c.JupyterHub.spawner_class = "wgs_tre.hub.spawner.ProjectSpawner"
c.ProjectSpawner.sessions_root = str(STATE / "sessions")
c.ProjectSpawner.examples_dir = str(REPO / "notebooks")  # seeded into new workspaces
# Files the examples read, seeded beside them (the demo: its cohort's documented true effects)
c.ProjectSpawner.example_files = [
    f for f in os.environ.get("WGS_TRE_EXAMPLE_FILES", "").split(os.pathsep) if f
]
c.Spawner.cmd = [str(BIN / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 60
c.Spawner.http_timeout = 60

# The data service: sessions open data only through it (it runs the gate and audits). Every
# user's server token may call it; the service reads the project from the token's scopes.
data_port = int(os.environ.get("WGS_TRE_DATA_SERVICE_PORT", "8090"))
data_url = f"http://{netns.HUB_ADDRESS}:{data_port}"
# Services read the store and policies the hub's settings name (environment or config file).
settings = load_settings()
service_env = {
    "WGS_TRE_DATABASE_URL": settings.store_url,
    "WGS_TRE_DATA_DIR": str(settings.data_dir),
    "WGS_TRE_POLICY_DIR": str(settings.policy_dir),
}
c.JupyterHub.services = [
    {
        "name": DATA_SERVICE,
        "url": data_url,
        "display": False,  # sessions call it; there is no page for people in the Services menu
        "command": [sys.executable, "-m", "wgs_tre.services.data"],
        "environment": {**service_env, "WGS_TRE_SESSIONS_ROOT": str(STATE / "sessions")},
    },
]
# The package proxy: sessions install approved packages through it (policies/egress.yaml).
package_proxy_port = int(os.environ.get("WGS_TRE_PACKAGE_PROXY_PORT", "3128"))
if package_proxy_port:
    c.JupyterHub.services.append(
        {
            "name": "wgs-tre-packages",
            "command": [sys.executable, "-m", "wgs_tre.services.package_proxy"],
            "environment": {
                **service_env,
                "WGS_TRE_SESSIONS_ROOT": str(STATE / "sessions"),
                "WGS_TRE_PACKAGE_PROXY_PORT": str(package_proxy_port),
            },
        }
    )
c.ProjectSpawner.proxy_port = package_proxy_port
# Session life cycle (policies/sessions.yaml): stop sessions whose access ended, and idle ones.
session_policy = load_policies(settings.policy_dir).sessions
c.JupyterHub.services += [
    {
        "name": "wgs-tre-session-watch",
        "command": [sys.executable, "-m", "wgs_tre.services.session_watch"],
        "environment": service_env,
    },
    {
        "name": "idle-culler",
        "command": [
            sys.executable,
            "-m",
            "jupyterhub_idle_culler",
            f"--timeout={session_policy.idle_timeout_seconds}",
        ],
    },
]
# The dashboards (wgs_tre/dashboards): Voila behind the hub's sign-in, one service each, opened
# only by the hub group of the TRE role each is for (hub_roles below).
c.JupyterHub.services += hub_services(REPO / "dashboards", service_env)
# Every process the hub manages ends with it, however it ends: JupyterHub stops them only in its
# own clean-up, which a killed or crashed hub never runs (wgs_tre/hub/end_with_hub.py).
for service in c.JupyterHub.services:
    service["command"] = ending_with_this_process(service["command"])
c.ConfigurableHTTPProxy.command = ending_with_this_process(c.ConfigurableHTTPProxy.command)
c.JupyterHub.load_roles = [
    {"name": "user", "scopes": ["self", f"access:services!service={DATA_SERVICE}"]},
    {"name": "tre-steward", "groups": ["steward"], "scopes": ["custom:wgs-tre:review"]},
    {"name": "tre-expert-panel", "groups": ["expert_panel"], "scopes": ["custom:wgs-tre:reports"]},
    *hub_roles(),
    {
        "name": "session-services",
        "services": ["wgs-tre-session-watch", "idle-culler"],
        "scopes": [
            "list:users",
            "read:users:activity",
            "read:servers",
            "delete:servers",
            "admin:servers",
        ],
    },
]
c.ProjectSpawner.data_service_url = f"{data_url}/services/{DATA_SERVICE}/"
c.Spawner.server_token_scopes = lambda spawner: [
    f"access:services!service={DATA_SERVICE}",
    f"access:servers!server={spawner.user.name}/{spawner.name}",
    "users:activity!user",
]

# Sign-in: NativeAuthenticator accounts gated by governance approval, optional TOTP; TRE roles
# become hub groups. For production single sign-on set WGS_TRE_AUTHENTICATOR=generic-oauth
# (OAuthenticator) and its OIDC settings; roles then come from the IdP's groups claim.
c.JupyterHub.authenticator_class = os.environ.get(
    "WGS_TRE_AUTHENTICATOR", "wgs_tre.hub.auth.TREAuthenticator"
)
c.NativeAuthenticator.open_signup = True  # approval happens in the governance store instead
c.NativeAuthenticator.allow_2fa = True
c.NativeAuthenticator.minimum_password_length = 10
c.Authenticator.manage_groups = True
c.Authenticator.allow_all = True  # who may do what is decided by governance, not by the hub
c.JupyterHub.custom_scopes = {
    "custom:wgs-tre:review": {"description": "Review data-use applications and outputs."},
    "custom:wgs-tre:reports": {"description": "Review per-patient reports as an expert panel."},
}

# Sessions of a hub that died ended with it (their sandboxes die with the hub), but leave their
# network namespaces, cgroups and temporary files behind: sweep them at start.
netns.ensure_hub_address()
sweep(STATE / "sessions")
