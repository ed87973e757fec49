//! One module per `hive` verb.

pub mod bench;
pub mod chaos;
pub mod server;
pub mod version;
