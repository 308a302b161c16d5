//! Storage backends for redb beyond the plain file, each a wrapper over any
//! inner [`redb::StorageBackend`]: the copy-on-write [`overlay`] the
//! read-only commands open files with, and (feature `testing`, for the
//! crash tests only) the fault-injecting wrapper `fault` and the crash
//! images it builds, `image`.

#[cfg(any(test, feature = "testing"))]
pub mod fault;
#[cfg(any(test, feature = "testing"))]
pub mod image;
pub mod overlay;
