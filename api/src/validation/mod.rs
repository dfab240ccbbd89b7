//! Validation of objects on create and update, with Kubernetes-style field errors.
