//! mediawatch-classify (being written).
