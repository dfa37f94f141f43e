//! Credential sources: one module per provider, the resolver that turns the AWS config files
//! into a chain of them, and the executor that walks that chain.

pub mod process;
pub mod sso;
