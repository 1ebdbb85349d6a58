//! The device agent that rotates an AWS IoT certificate and private key.
//!
//! A pure [`machine`] decides what to do; the [`runner`] executes its actions against a
//! [`transport`], the [`store`] of credential files, the write-ahead [`journal`] and a
//! [`restarter`].

pub mod config;
pub mod credentials;
pub mod fsutil;
pub mod journal;
pub mod machine;
pub mod mqtt;
pub mod preflight;
pub mod restarter;
pub mod runner;
pub mod store;
pub mod transport;
