"""The `processor_relay` function: the processor queue, delivered to each sub-processor over HTTPS."""
