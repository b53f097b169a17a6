"""The CRM Custody CDK app: one stack, one construct per concern, derived from the data map and catalog."""
