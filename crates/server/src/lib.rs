//! mediawatch-server (being written).
