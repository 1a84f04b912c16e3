//! Test backends (being written).
