//! mediawatch-index (being written).
