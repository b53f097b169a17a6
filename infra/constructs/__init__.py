"""One construct per concern of the stack; `infra.stack` composes them."""
