//! The watch hub (being written).
