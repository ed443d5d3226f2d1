//! mediawatch-extract (being written).
