//! (being written) doctor
