//! Intentionally empty: this crate exists for its `Cargo.toml` (see the workspace `Cargo.toml`
//! and `xtask/tests/features.rs`).
