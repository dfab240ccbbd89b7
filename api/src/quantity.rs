//! Resource quantities (`100m`, `128Mi`): parsing, canonical form.
