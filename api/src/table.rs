//! Server-side printing: meta.k8s.io/v1 Table with the columns kubectl shows per type.
