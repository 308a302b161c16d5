//! Storage backends for redb beyond the plain file: test and fault-injection
//! wrappers that work over any inner [`redb::StorageBackend`].

pub mod fault;
pub mod image;
pub mod overlay;
