//! Kubernetes defaulting of built-in types.
