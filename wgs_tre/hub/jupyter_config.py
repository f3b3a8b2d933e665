"""The Jupyter configuration a project session starts with, rendered into a directory on its
``JUPYTER_PATH`` (read-only in the sandbox): the "WGS TRE - <project>" kernel spec, JupyterLab's
page settings and the server's extensions.

The project kernel is the session's only kernel, and it takes the name ``python3``: notebooks
written anywhere (the examples too) name that kernel, so they open on the project's governed
environment instead of offering a second, plain Python beside it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

__all__ = ["KERNEL_NAME", "KERNEL_TEMPLATE", "render"]

KERNEL_TEMPLATE = Path(__file__).resolve().parents[2] / "kernels" / "wgs-tre" / "kernel.json"
KERNEL_NAME = "python3"


def _write(path: Path, content: object) -> None:
    path.write_text(json.dumps(content, indent=1))
    path.chmod(0o644)


def render(root: Path, project: str) -> Path:
    """Write the configuration of ``project``'s sessions under ``root``; return ``root``."""
    template = json.loads(KERNEL_TEMPLATE.read_text())
    template["argv"] = [sys.executable if a == "{python}" else a for a in template["argv"]]
    template["display_name"] = template["display_name"].replace("{project}", project)
    spec = root / "kernels" / KERNEL_NAME
    labconfig = root / "labconfig"
    for directory in (spec, labconfig):
        directory.mkdir(parents=True, exist_ok=True)
    for directory in (root.parent, root, root / "kernels", spec, labconfig):
        directory.chmod(0o755)
    _write(spec / "kernel.json", template)
    # JupyterLab's news pop-up fetches from the internet, which sessions cannot reach.
    disabled = {"@jupyterlab/apputils-extension:announcements": True}
    _write(labconfig / "page_config.json", {"disabledExtensions": disabled})
    # Server extensions a session does not use cost start-up time (language servers would
    # also scan the machine): leave them off. JupyterLab's extension manager lists what is
    # installed and offers nothing from PyPI (0.15 s less CPU per start).
    # A computing kernel counts as activity for the idle culler (busy_kernels). The server
    # hands out no files: they leave through the airlock (no_downloads).
    extensions = {
        "jupyter_lsp": False,
        "notebook_shim": False,
        "wgs_tre.hub.busy_kernels": True,
        "wgs_tre.hub.no_downloads": True,
    }
    _write(
        root / "jupyter_server_config.json",
        {
            # no terminals: a shell would be one more way to hand files to the browser
            "ServerApp": {"jpserver_extensions": extensions, "terminals_enabled": False},
            "LabApp": {"extension_manager": "readonly"},
            # no native kernel, nor any other installed on the machine, beside the project's
            "KernelSpecManager": {
                "ensure_native_kernel": False,
                "allowed_kernelspecs": [KERNEL_NAME],
            },
            "MappingKernelManager": {"default_kernel_name": KERNEL_NAME},
        },
    )
    return root
