//! The node side of the orchestrator link (DESIGN §4): join, mutual TLS, registration, lease, status.
