"""`custody preflight` (`make preflight`): what an account lacks before `cdk deploy`, read-only.

Each check (`checks.Preflight`) reads the account with describe/get/list calls only and says OK,
FAIL (the deploy would fail, or its alarms would reach nobody), WARN (it would work, at a cost or
risk the engineer should know) or NOT CHECKED (access denied, or the service's own error, quoted;
never guessed over). The settings are the deploy's own: `cdk.json`'s context with `-c key=value`
overrides, and the stack's fixed names come from the template those settings synthesize
(`names`). Exit status 1 on any FAIL.

calls    Check, Status, and how a failed read becomes NOT CHECKED
names    the stack's fixed physical names, from the template, and a look-up for each
checks   the checks
command  the command: settings, synthesis, report
"""

from devstack.preflight.calls import Check, Status
from devstack.preflight.checks import MIN_BOOTSTRAP_VERSION, Preflight, Target
from devstack.preflight.command import add_commands, deploy_context, render, target_from_context

__all__ = [
    "MIN_BOOTSTRAP_VERSION",
    "Check",
    "Preflight",
    "Status",
    "Target",
    "add_commands",
    "deploy_context",
    "render",
    "target_from_context",
]
