//! The core group (`v1`): pods and their building blocks, services,
//! endpoints, namespaces, nodes, config maps, secrets, service accounts,
//! events and persistent storage.

mod affinity;
mod config;
mod container;
mod event;
mod node;
mod pod;
mod service;
mod storage;
mod volume;

pub use affinity::*;
pub use config::*;
pub use container::*;
pub use event::*;
pub use node::*;
pub use pod::*;
pub use service::*;
pub use storage::*;
pub use volume::*;
