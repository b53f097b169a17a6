"""CRM Custody's shared domain library, deployed with every function.

Modules are small and import nothing heavy at package import time: a handler pays
only for what it uses.
"""
