//! (being written) status_report
