//! mediawatch-ingest (being written).
