"""The `custody` commands `ops` itself provides: `audit`, `erasure rerun`, `restore-guard`, `retention`.

Each module adds its commands with `add_commands(commands, state_dir)`; each command acts on the
`Target` its flags name (`ops.target`).
"""
