//! mediawatch-fetch (being written).
