//! Build, package, install and CI tasks: `cargo xtask help`.

fn main() {}
