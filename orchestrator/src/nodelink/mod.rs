//! The orchestrator side of the node link (DESIGN §4): QUIC endpoint, join tokens, certificate issuance, per-node authorization.
