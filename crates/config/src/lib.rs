//! mediawatch-config (being written).
