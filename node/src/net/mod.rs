//! The pod network on one node (DESIGN §6): safety routes, bridge, per-pod netns and veth, IPAM.
