//! mediawatch-report (being written).
