//! The MVCC keyspace with etcd semantics (being written).
