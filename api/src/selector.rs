//! Label and field selectors: parsing, matching.
