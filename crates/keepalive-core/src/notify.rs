//! (being written) notify
