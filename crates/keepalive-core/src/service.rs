//! (being written) service
