//! Test support shared by kiln's crates (a dev-dependency only): real server processes on
//! free loopback ports ([`ServerProcess`]), the tools the tests need found in one place
//! ([`repo_root`], [`tool`]), and a server that accepts connections but never answers
//! ([`Silent`]), for the slow-server tests of every remote cache store, and hostile artifacts
//! ([`crafted`]) for the security tests.
//!
//! Servers are started by the test that needs them and killed when their guard drops, so a
//! failing test leaves nothing running. Readiness is a bounded poll of the port (a refused
//! connection returns at once), never a fixed sleep.

pub mod crafted;
pub mod fixtures;
mod server;
pub mod servers;
mod silent;

pub use server::{ServerProcess, free_port, repo_root, tool};
pub use silent::Silent;
