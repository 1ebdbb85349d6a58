//! Handlers of the three certificate-rotation Lambda functions.
//!
//! - `create`: checks a device's CSR request, issues a certificate through AWS IoT Core or AWS
//!   Private CA, attaches it next to the current one and replies.
//! - `commit`: records that the device connected with its new certificate.
//! - `terminal`: when the rotation job execution ends, deletes whichever certificate lost and
//!   notifies operators of every outcome but success.
//!
//! The handlers reach AWS only through the traits in `aws`, implemented with the SDK in `sdk`.
//! They never log a certificate body or a CSR.

#![recursion_limit = "256"]

pub mod aws;
pub mod commit;
pub mod config;
pub mod create;
pub mod csr;
pub mod endpoint;
pub mod error;
pub mod request;
pub mod runtime;
pub mod sdk;
pub mod terminal;

pub use error::{BackendError, ErrorKind};
