"""The operator's and auditor's tools: the `custody` command and the code only it runs.

They act on a deployed stack with the caller's AWS credentials, or on a running local stack
(`--local`) through its `.devstack/stack.json`. `ops` depends on the `custody` library and boto3,
never on `devstack`: the local stack's commands join `custody` as a plugin (`ops.plugins`).

    cli            the `custody` entry point: parser, plugins, exit statuses
    plugins        the `custody.commands` entry-point group
    target         where a command acts (AWS or --local) and with which settings and clients
    stack_file     the running local stack's stack.json, read
    failures       OperatorError, and AWS failures as one line
    clients        boto3 clients from one session
    commands/      audit, erasure (rerun, restore-guard), retention
    auditor/       the auditor's library: chain, reader, verification, report
"""
