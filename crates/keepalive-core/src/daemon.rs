//! (being written) daemon
