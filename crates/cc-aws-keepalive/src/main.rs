//! The `cc-aws-keepalive` command (being written).

fn main() {}
