"""IAM for the local stack: each function and the state machine held to its role as synthesized.

moto enforces no IAM; this package authorizes every AWS call a function or the erasure state
machine makes against the synthesized template's policies and refuses it as AWS would. Nothing
here is deployed. The pieces, in the order a call meets them:

* `hooks`: where enforcement plugs in (the functions' clients, the runtime, moto's Step
  Functions task clients) and `local_enforcement(resources, clients)` for a provisioned stack;
* `enforce`: the botocore handlers, the calling thread's principal (`acting_as`), the refusals;
* `requests`: what IAM authorizes for one API call (actions, resources, context keys);
* `authority`: IAM's decision over identity, resource and key policies;
* `policy`, `conditions`, `patterns`: statements, condition operators, wildcard matching;
* `stack`, `template`, `synthesis`: the template, its intrinsics resolved, its policies compiled;
* `ledger`: what was checked and refused.

See docs/local-stack.md ("IAM: each function is held to its role").
"""
