//! Integration tests for mediawatch-extract (one test binary, modules per topic).

mod api;
mod forum;
mod hostile;
mod wcxb;
