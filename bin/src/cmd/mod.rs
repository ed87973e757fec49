//! One module per `hive` verb.

pub mod bench;
pub mod version;
