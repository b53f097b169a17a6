"""Where things are: the repository, the Lambda asset root, the ASL file, the stack file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Final

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR: Final = REPO_ROOT / "functions"
ERASURE_ASL: Final = REPO_ROOT / "statemachines" / "erasure.asl.json"
DEFAULT_STATE_DIR: Final = REPO_ROOT / ".devstack"
STACK_FILE_NAME: Final = "stack.json"
OPENAPI_DOC: Final = REPO_ROOT / "docs" / "openapi.json"


def ensure_functions_importable() -> None:
    """Put the Lambda asset root on `sys.path`, as the Lambda runtime does with /var/task."""
    root = str(FUNCTIONS_DIR)
    if root not in sys.path:
        sys.path.insert(0, root)
