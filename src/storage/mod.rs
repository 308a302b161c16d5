//! Storage backends for redb beyond the plain file, each a wrapper over any
//! inner [`redb::StorageBackend`]: the copy-on-write [`overlay`] the
//! read-only commands open files with, and the test and fault-injection
//! wrappers.

pub mod fault;
pub mod image;
pub mod overlay;
