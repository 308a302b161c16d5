//! Misuse cases: see `super`.
