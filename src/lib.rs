//! Shared code of the examples and cross-crate tests.
