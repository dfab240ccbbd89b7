//! OpenAPI v3 (and v2) documents for the served types, generated from k8s-openapi's schemas.
