//! mediawatch-state (being written).
