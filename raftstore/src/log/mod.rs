//! The segmented, checksummed, group-committed Raft log (being written).
