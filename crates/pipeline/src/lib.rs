//! mediawatch-pipeline (being written).
