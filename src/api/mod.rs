//! See the crate-level architecture map.
